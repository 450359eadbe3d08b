//! Who may call what: one rule per route (method + path template), checked by the guard before
//! any handler runs. A route without a rule answers 500 and fails the tests that walk every
//! route of the OpenAPI description, so a new endpoint cannot be forgotten.

use axum::http::Method;

/// What a caller needs for a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, even without a credential (login, the OpenAPI description).
    Public,
    /// Any authenticated caller; the handler shows them only their own things.
    Authenticated,
    /// The instance named in the path must be the caller's (or the caller an admin); someone
    /// else's instance is 404, as if it did not exist.
    Instance,
    /// The operation in the path must be the caller's (or the caller an admin); else 404.
    Operation,
    /// Admins only (403 for others).
    Admin,
}

/// One route's rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    /// Whether the route changes something: refused to read-only tokens, and audited.
    pub write: bool,
    /// The audit log's name for it.
    pub action: &'static str,
}

const fn rule(
    method: &'static str,
    path: &'static str,
    access: Access,
    write: bool,
    action: &'static str,
) -> Rule {
    Rule {
        method,
        path,
        access,
        write,
        action,
    }
}

use Access::{Admin, Authenticated, Instance, Operation, Public};

const I: &str = "/api/v1/instances/{name}";

/// Every route of `/api/v1`.
#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    rule("POST", "/api/v1/auth/login", Public, true, "auth.login"),
    rule("POST", "/api/v1/auth/refresh", Public, true, "auth.refresh"),
    rule("POST", "/api/v1/auth/logout", Authenticated, false, "auth.logout"),
    rule("GET", "/api/v1/auth/me", Authenticated, false, "auth.me"),
    rule("GET", "/api/v1/auth/session", Public, false, "auth.session"),
    rule("GET", "/api/v1/users", Admin, false, "user.list"),
    rule("POST", "/api/v1/users", Admin, true, "user.create"),
    rule("PATCH", "/api/v1/users/{id}", Admin, true, "user.update"),
    rule("DELETE", "/api/v1/users/{id}", Admin, true, "user.delete"),
    rule("POST", "/api/v1/users/me/password", Authenticated, true, "user.password"),
    rule("GET", "/api/v1/tokens", Authenticated, false, "token.list"),
    rule("POST", "/api/v1/tokens", Authenticated, true, "token.create"),
    rule("DELETE", "/api/v1/tokens/{id}", Authenticated, true, "token.delete"),
    rule("GET", "/api/v1/audit", Authenticated, false, "audit.list"),
    rule("GET", "/api/v1/instances", Authenticated, false, "instance.list"),
    rule("POST", "/api/v1/instances", Authenticated, true, "instance.create"),
    rule("GET", I, Instance, false, "instance.get"),
    rule("PATCH", I, Instance, true, "instance.update"),
    rule("DELETE", I, Instance, true, "instance.delete"),
    rule("POST", "/api/v1/instances/{name}/start", Instance, true, "instance.start"),
    rule("POST", "/api/v1/instances/{name}/stop", Instance, true, "instance.stop"),
    rule("POST", "/api/v1/instances/{name}/restart", Instance, true, "instance.restart"),
    rule("POST", "/api/v1/instances/{name}/suspend", Instance, true, "instance.suspend"),
    rule("POST", "/api/v1/instances/{name}/resume", Instance, true, "instance.resume"),
    rule("POST", "/api/v1/instances/{name}/exec", Instance, true, "instance.exec"),
    rule("POST", "/api/v1/instances/{name}/password", Instance, true, "instance.password"),
    // A console types into the guest: a write, even though it opens with GET.
    rule("GET", "/api/v1/instances/{name}/console", Instance, true, "instance.console"),
    rule("GET", "/api/v1/instances/{name}/forwards", Instance, false, "forward.list"),
    rule("POST", "/api/v1/instances/{name}/forwards", Instance, true, "forward.create"),
    rule("DELETE", "/api/v1/instances/{name}/forwards/{id}", Instance, true, "forward.delete"),
    rule("GET", "/api/v1/instances/{name}/snapshots", Instance, false, "snapshot.list"),
    rule("POST", "/api/v1/instances/{name}/snapshots", Instance, true, "snapshot.create"),
    rule("DELETE", "/api/v1/instances/{name}/snapshots/{snap}", Instance, true, "snapshot.delete"),
    rule("POST", "/api/v1/instances/{name}/snapshots/{snap}/restore", Instance, true, "snapshot.restore"),
    rule("GET", "/api/v1/instances/{name}/files", Instance, false, "file.pull"),
    rule("POST", "/api/v1/instances/{name}/files", Instance, true, "file.push"),
    rule("GET", "/api/v1/instances/{name}/backups", Instance, false, "backup.list"),
    rule("POST", "/api/v1/instances/{name}/backups", Instance, true, "backup.create"),
    rule("DELETE", "/api/v1/instances/{name}/backups/{id}", Instance, true, "backup.delete"),
    rule("GET", "/api/v1/instances/{name}/backups/{id}/export", Instance, false, "backup.export"),
    rule("POST", "/api/v1/instances/{name}/backups/{id}/restore", Instance, true, "backup.restore"),
    rule("GET", "/api/v1/network", Authenticated, false, "network.get"),
    rule("PUT", "/api/v1/network/ipv6", Admin, true, "network.ipv6"),
    rule("GET", "/api/v1/operations", Authenticated, false, "operation.list"),
    rule("GET", "/api/v1/operations/{id}", Operation, false, "operation.get"),
    rule("DELETE", "/api/v1/operations/{id}", Operation, true, "operation.cancel"),
    rule("GET", "/api/v1/operations/{id}/wait", Operation, false, "operation.wait"),
    rule("GET", "/api/v1/images", Authenticated, false, "image.list"),
    rule("POST", "/api/v1/images", Admin, true, "image.build"),
    rule("POST", "/api/v1/images/import", Admin, true, "image.import"),
    rule("DELETE", "/api/v1/images/{*alias}", Admin, true, "image.delete"),
    // The handler shows each caller only the events about what they may see.
    rule("GET", "/api/v1/events", Authenticated, false, "event.stream"),
    rule("POST", "/api/v1/run", Admin, true, "app.run"),
    rule("GET", "/api/v1/system", Authenticated, false, "system.get"),
    rule("GET", "/api/v1/settings", Authenticated, false, "settings.get"),
    rule("PUT", "/api/v1/settings", Admin, true, "settings.update"),
    rule("GET", "/api/v1/system/metrics", Admin, false, "metrics.system"),
    rule("GET", "/api/v1/instances/{name}/metrics", Instance, false, "metrics.instance"),
    rule("GET", "/api/v1/alerts/rules", Authenticated, false, "alert.rule.list"),
    rule("POST", "/api/v1/alerts/rules", Authenticated, true, "alert.rule.create"),
    rule("PATCH", "/api/v1/alerts/rules/{id}", Authenticated, true, "alert.rule.update"),
    rule("DELETE", "/api/v1/alerts/rules/{id}", Authenticated, true, "alert.rule.delete"),
    rule("GET", "/api/v1/alerts/events", Authenticated, false, "alert.event.list"),
    rule("POST", "/api/v1/alerts/test", Admin, true, "alert.test"),
    rule("GET", "/api/v1/openapi.json", Public, false, "openapi"),
];

/// The rule for a matched route.
pub fn rule_for(method: &Method, path: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.path == path && r.method == method.as_str())
}
