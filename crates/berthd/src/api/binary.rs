//! [`Binary`]: the schema of a raw body (an archive upload, a file's content) in the OpenAPI
//! description.

/// Raw bytes: an archive or a file's content.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(#[allow(dead_code, reason = "a schema, never built")] Vec<u8>);
