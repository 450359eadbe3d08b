//! What every route answers by class, added to the description from each route's declared rule
//! and body, so no handler repeats it and none can forget it: the security it takes (none for
//! public routes; a bearer token, or the session cookie with the CSRF header for changes) and
//! the error answers every route of its kind can give.

use utoipa::openapi::header::Header;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Components, ContentBuilder, OpenApi, Ref, RefOr};

use crate::api::access::{Rule, Who, operations_mut, rule_of};
use crate::api::session::{CSRF_HEADER, SESSION_COOKIE};

const BEARER: &str = "bearer";
const COOKIE: &str = "session_cookie";
const CSRF: &str = "csrf_header";

/// An error answer added by class: status, component name, description, and a header it
/// carries (name, description).
type Standard = (
    &'static str,
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
);

const STANDARD: &[Standard] = &[
    (
        "400",
        "BadRequest",
        "Bad input: a body, query or path value that cannot be read (the field is named); nothing changed",
        None,
    ),
    (
        "401",
        "Unauthorized",
        "No credential, or a bad, expired or revoked one",
        Some(("WWW-Authenticate", "`Bearer realm=\"berth\"`")),
    ),
    (
        "403",
        "Forbidden",
        "Not allowed: not an admin, a read-only token asked to change something, or a browser request without its CSRF token or from another origin",
        None,
    ),
    (
        "404",
        "NotFound",
        "No such thing, or it is someone else's",
        None,
    ),
    (
        "405",
        "MethodNotAllowed",
        "This method is not one this path answers; `Allow` lists those it does",
        Some(("Allow", "The methods this path answers")),
    ),
    (
        "415",
        "UnsupportedMediaType",
        "The body is not of a media type this operation declares (see its requestBody)",
        None,
    ),
    (
        "429",
        "TooManyRequests",
        "Too many requests; try again after `Retry-After` seconds",
        Some(("Retry-After", "Seconds to wait")),
    ),
];

/// Adds the security schemes, the standard error answers and each operation's security.
pub fn complete(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Components::new);
    add_security_schemes(components);
    for (_, name, description, header) in STANDARD {
        components.responses.insert(
            (*name).to_owned(),
            RefOr::T(error_response(description, *header)),
        );
    }
    for item in doc.paths.paths.values_mut() {
        for (_, operation) in operations_mut(item) {
            let Some(rule) = rule_of(operation) else {
                continue;
            };
            operation.security = Some(security_for(rule));
            if let Some(body) = &mut operation.request_body {
                for content in body.content.values_mut() {
                    unwrap_optional(&mut content.schema);
                }
            }
            let has_body = operation.request_body.is_some();
            let has_params = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let authenticated = rule.who != Who::Anyone;
            let owned = matches!(rule.who, Who::InstanceOwner | Who::OperationOwner);
            for (status, name, _, _) in STANDARD {
                let applies = match *status {
                    "400" => has_body || has_params,
                    "401" | "403" => authenticated,
                    "404" => owned || has_params,
                    "405" => true,
                    "415" => has_body,
                    "429" => rule.writes,
                    _ => false,
                };
                if applies {
                    operation
                        .responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
                }
            }
        }
    }
}

/// An optional body (`request_body = Option<T>`) is described as `T`, not required: it may be
/// left out (and is then `T`'s default), but when sent it is a `T`, never `null`.
fn unwrap_optional(schema: &mut Option<RefOr<Schema>>) {
    let Some(RefOr::T(Schema::OneOf(one_of))) = schema else {
        return;
    };
    let is_null = |item: &RefOr<Schema>| matches!(item, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
    if one_of.items.len() == 2 && one_of.items.iter().any(is_null) {
        *schema = one_of.items.iter().find(|item| !is_null(item)).cloned();
    }
}

fn add_security_schemes(components: &mut Components) {
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An API token (`POST /tokens`) or the access token from `POST /auth/login`",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        COOKIE,
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            SESSION_COOKIE,
            "The HttpOnly session cookie `POST /auth/login` sets (browsers)",
        ))),
    );
    components.add_security_scheme(
        CSRF,
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "X-CSRF-Token",
            "With the session cookie, on every change: the token `GET /auth/me` gives \
             (a WebSocket may send it as `?csrf=`)",
        ))),
    );
    debug_assert_eq!(CSRF_HEADER, "x-csrf-token");
}

/// Public routes take none; the others a bearer token, or the session cookie (with the CSRF
/// header when the route changes something).
fn security_for(rule: Rule) -> Vec<SecurityRequirement> {
    let none: [&str; 0] = [];
    match rule.who {
        Who::Anyone => Vec::new(),
        _ => {
            let mut cookie = SecurityRequirement::new(COOKIE, none);
            if rule.writes {
                cookie = cookie.add(CSRF, none);
            }
            vec![SecurityRequirement::new(BEARER, none), cookie]
        }
    }
}

fn error_response(description: &str, header: Option<(&str, &str)>) -> Response {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    if let Some((name, description)) = header {
        let mut value = Header::new(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String),
        );
        value.description = Some(description.to_owned());
        response = response.header(name, value);
    }
    response.build()
}
