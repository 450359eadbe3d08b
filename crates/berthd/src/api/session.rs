//! Browser sessions: the HttpOnly cookies login sets, and the CSRF token a cookie-authenticated
//! request must echo in `X-CSRF-Token` when it changes something. API clients send
//! `Authorization: Bearer …` instead and need neither.

use axum::http::{HeaderMap, HeaderValue, header};
use berth_auth::IssuedSession;

/// The access token's cookie.
pub const SESSION_COOKIE: &str = "berth_session";
/// The refresh token's cookie, sent only to the refresh endpoint.
pub const REFRESH_COOKIE: &str = "berth_refresh";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
const REFRESH_PATH: &str = "/api/v1/auth/refresh";

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// `Set-Cookie` values for a new session: HttpOnly, SameSite=Strict, Secure over TLS.
pub fn set_cookies(session: &IssuedSession, secure: bool) -> Vec<HeaderValue> {
    let now = chrono::Utc::now();
    let access_age = (session.access_expires_at - now).num_seconds().max(0);
    let refresh_age = (session.refresh_expires_at - now).num_seconds().max(0);
    [
        build(
            SESSION_COOKIE,
            session.access_token.expose(),
            "/",
            access_age,
            secure,
        ),
        build(
            REFRESH_COOKIE,
            session.refresh_token.expose(),
            REFRESH_PATH,
            refresh_age,
            secure,
        ),
    ]
    .into_iter()
    .filter_map(|c| HeaderValue::from_str(&c).ok())
    .collect()
}

/// `Set-Cookie` values that remove both cookies (logout).
pub fn clear_cookies(secure: bool) -> Vec<HeaderValue> {
    [
        build(SESSION_COOKIE, "", "/", 0, secure),
        build(REFRESH_COOKIE, "", REFRESH_PATH, 0, secure),
    ]
    .into_iter()
    .filter_map(|c| HeaderValue::from_str(&c).ok())
    .collect()
}

fn build(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::auth::CsrfKey;
    use uuid::Uuid;

    #[test]
    fn cookies_are_found_and_csrf_tokens_are_per_session() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; berth_session=abc.def; b=2"),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc.def"));
        assert_eq!(cookie(&headers, REFRESH_COOKIE), None);
        let key = CsrfKey::random();
        let (one, two) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(key.verify(one, &key.token(one)));
        assert!(!key.verify(two, &key.token(one)));
        assert!(!CsrfKey::random().verify(one, &key.token(one)));
        let line = build(SESSION_COOKIE, "x", "/", 60, true);
        assert!(line.contains("HttpOnly") && line.contains("SameSite=Strict"));
        assert!(line.ends_with("; Secure"));
    }
}
