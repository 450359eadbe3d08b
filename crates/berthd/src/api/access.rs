//! Who may call what. Each handler declares its rule in its own `#[utoipa::path]` attribute, as
//! the operation extension `x-berth-access`, beside its method, path and answers:
//!
//! ```text
//! #[utoipa::path(post, path = "/api/v1/instances/{name}/start", operation_id = "instance.start",
//!     extensions(("x-berth-access" = json!(Rule::writes(Who::InstanceOwner)))), …)]
//! ```
//!
//! The operation id is the audit log's name for the route. The guard's [`RouteTable`] is read
//! from the description the router was built from, so a route and its rule cannot drift apart;
//! a route whose rule is missing or unreadable is refused (fail closed), and a test walks them
//! all. The app checks ownership again in each method: the guard's refusal comes first, before
//! any body is parsed, so a stranger learns nothing.

use std::collections::BTreeMap;

use axum::http::Method;
use serde::{Deserialize, Serialize};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::{Operation, PathItem};

/// The operation extension holding a route's [`Rule`].
pub const EXTENSION: &str = "x-berth-access";

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// Anyone, even without a credential (login, the OpenAPI description).
    Anyone,
    /// Any authenticated caller; the app shows them only their own things.
    User,
    /// The owner of the instance named in the path (or an admin); to anyone else it is 404, as
    /// if it did not exist.
    InstanceOwner,
    /// The owner of the operation in the path (or an admin); else 404.
    OperationOwner,
    /// Admins only (403 for others).
    Admin,
}

/// One route's rule: who, and whether the route changes something (then read-only tokens are
/// refused and the call is audited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub who: Who,
    pub writes: bool,
}

impl Rule {
    /// A route that only reads.
    pub const fn reads(who: Who) -> Self {
        Self { who, writes: false }
    }

    /// A route that changes something.
    pub const fn writes(who: Who) -> Self {
        Self { who, writes: true }
    }
}

/// One routed operation as the guard sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    /// The path template as routed (`/api/v1/instances/{name}`, `/api/v1/images/{*alias}`).
    pub path: String,
    /// The declared rule; `None` when the handler declared none (the route is refused).
    pub rule: Option<Rule>,
    /// The operation id: the audit log's action name.
    pub action: String,
    /// The request body's declared media types; empty when it takes no body.
    pub body_types: Vec<String>,
}

/// Every routed operation, by method and path template.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: BTreeMap<(String, String), Route>,
}

impl RouteTable {
    /// The table of the description the router was built from.
    pub fn from_openapi(doc: &OpenApi) -> Self {
        let mut routes = BTreeMap::new();
        for (path, item) in &doc.paths.paths {
            for (method, operation) in operations(item) {
                let route = Route {
                    method: method.clone(),
                    path: path.clone(),
                    rule: rule_of(operation),
                    action: operation.operation_id.clone().unwrap_or_default(),
                    body_types: operation
                        .request_body
                        .as_ref()
                        .map(|body| body.content.keys().cloned().collect())
                        .unwrap_or_default(),
                };
                routes.insert((method.to_string(), path.clone()), route);
            }
        }
        Self { routes }
    }

    /// The route matched by `method` on `path` (a template).
    pub fn get(&self, method: &Method, path: &str) -> Option<&Route> {
        self.routes.get(&(method.to_string(), path.to_owned()))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Route> {
        self.routes.values()
    }
}

/// The rule an operation declares, if it declares a readable one.
pub fn rule_of(operation: &Operation) -> Option<Rule> {
    let value = operation.extensions.as_ref()?.get(EXTENSION)?;
    serde_json::from_value(value.clone()).ok()
}

/// The operations of a path item with their methods.
pub fn operations(item: &PathItem) -> impl Iterator<Item = (Method, &Operation)> {
    [
        (Method::GET, &item.get),
        (Method::PUT, &item.put),
        (Method::POST, &item.post),
        (Method::DELETE, &item.delete),
        (Method::OPTIONS, &item.options),
        (Method::HEAD, &item.head),
        (Method::PATCH, &item.patch),
        (Method::TRACE, &item.trace),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_ref().map(|op| (method, op)))
}

/// The operations of a path item, to change them.
pub fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = (Method, &mut Operation)> {
    [
        (Method::GET, &mut item.get),
        (Method::PUT, &mut item.put),
        (Method::POST, &mut item.post),
        (Method::DELETE, &mut item.delete),
        (Method::OPTIONS, &mut item.options),
        (Method::HEAD, &mut item.head),
        (Method::PATCH, &mut item.patch),
        (Method::TRACE, &mut item.trace),
    ]
    .into_iter()
    .filter_map(|(method, op)| op.as_mut().map(|op| (method, op)))
}
