//! The emulator's Swagger 2.0 document (`/swagger/docs/v2`, `/swagger/docs/v3`), generated from
//! the `schema` tables so that it can never disagree with what is served.

use serde_json::{Map, Value, json};

use costlake::model::Dataset;
use costlake::schema::{ApiVersion, Kind};
use costlake::source::ea_api::{ENDPOINTS, Shape};

fn field_schema(kind: Kind) -> Value {
    match kind {
        Kind::Structured => json!({"type": "array", "items": {"$ref": "#/definitions/NameValue"}}),
        other => {
            let (ty, format) = other.swagger_type();
            let mut v = json!({ "type": ty });
            if let Some(f) = format {
                v["format"] = json!(f);
            }
            v
        }
    }
}

fn definition(dataset: Dataset, version: ApiVersion) -> Value {
    let mut properties = Map::new();
    for field in dataset.fields() {
        let Some(name) = field.api_name(version) else {
            continue;
        };
        let mut schema = field_schema(field.kind);
        schema["description"] = json!(field.doc);
        properties.insert(name.to_string(), schema);
    }
    json!({ "type": "object", "properties": properties })
}

fn operation_id(path: &str) -> String {
    let mut id = String::from("get");
    for seg in path
        .split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{') && *s != "enrollments")
    {
        let mut chars = seg.chars();
        if let Some(c) = chars.next() {
            id.push(c.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    id
}

/// The Swagger 2.0 document of `version`, for clients generated with AutoRest or Swagger
/// Codegen against `host`.
pub fn document(version: ApiVersion, host: &str) -> Value {
    let v = version.prefix();
    let mut paths = Map::new();
    for route in ENDPOINTS {
        let mut parameters = vec![
            json!({"name": "enrollmentNumber", "in": "path", "required": true, "type": "string", "description": "Enrollment number."}),
            json!({"name": "authorization", "in": "header", "required": true, "type": "string", "description": "`bearer {API key}`."}),
        ];
        if route.path.contains("{billingPeriod}") {
            parameters.push(json!({"name": "billingPeriod", "in": "path", "required": true, "type": "string", "description": "Billing period, yyyyMM."}));
        }
        if route.path.ends_with("bycustomdate") {
            for name in ["startTime", "endTime"] {
                parameters.push(json!({"name": name, "in": "query", "required": true, "type": "string", "format": "date", "description": "yyyy-MM-dd (UTC)."}));
            }
        }
        if route.shape == Shape::Paged {
            parameters.push(json!({"name": "skiptoken", "in": "query", "required": false, "type": "string", "description": "Opaque page token taken from nextLink."}));
        }
        parameters.push(json!({"name": "If-None-Match", "in": "header", "required": false, "type": "string", "description": "ETag of a previous answer; 304 when unchanged."}));
        let def = format!("#/definitions/{}", route.dataset.swagger_definition());
        let ok = match route.shape {
            Shape::Array => json!({"type": "array", "items": {"$ref": def}}),
            Shape::Paged => {
                json!({"$ref": format!("#/definitions/{}Page", route.dataset.swagger_definition())})
            }
            Shape::Single if version == ApiVersion::V3 => {
                json!({"type": "array", "items": {"$ref": def}})
            }
            Shape::Single => json!({"$ref": def}),
        };
        let err = json!({"$ref": "#/definitions/ErrorResponse"});
        let op = json!({
            "get": {
                "operationId": operation_id(route.path),
                "summary": route.summary,
                "produces": ["application/json"],
                "parameters": parameters,
                "responses": {
                    "200": {"description": "OK", "schema": ok, "headers": {"ETag": {"type": "string"}}},
                    "304": {"description": "Not modified since the ETag in If-None-Match."},
                    "400": {"description": "Bad request: billing period, dates or enrollment.", "schema": err},
                    "401": {"description": "Missing, wrong or expired API key.", "schema": err},
                    "404": {"description": "Unavailable.", "schema": err},
                    "429": {"description": "Too many requests; wait for x-ms-ratelimit-microsoft.consumption-retry-after seconds.", "schema": err,
                             "headers": {"x-ms-ratelimit-microsoft.consumption-retry-after": {"type": "integer"}}},
                    "500": {"description": "Server error.", "schema": err},
                    "503": {"description": "Unavailable; wait for Retry-After seconds.", "schema": err, "headers": {"Retry-After": {"type": "integer"}}}
                }
            }
        });
        paths.insert(format!("/{v}{}", route.path), op);
    }
    let mut definitions = Map::new();
    for dataset in Dataset::API {
        definitions.insert(
            dataset.swagger_definition().to_string(),
            definition(dataset, version),
        );
    }
    definitions.insert(
        "UsageDetailPage".into(),
        json!({"type": "object", "properties": {
            "id": {"type": "string", "description": "Id of the API call."},
            "data": {"type": "array", "items": {"$ref": "#/definitions/UsageDetail"}},
            "nextLink": {"type": "string", "description": "Absolute URL of the next page; null on the last page."}
        }}),
    );
    definitions.insert(
        "NameValue".into(),
        json!({"type": "object", "properties": {"name": {"type": "string"}, "value": {"type": "number", "format": "double"}}}),
    );
    definitions.insert(
        "ErrorResponse".into(),
        json!({"type": "object", "properties": {"error": {"type": "object", "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}}}}}),
    );
    json!({
        "swagger": "2.0",
        "info": {
            "title": format!("Enterprise Reporting {v} APIs (costlake emulator)"),
            "version": v,
            "description": "Local emulator of the Azure EA Reporting API. Generate clients with AutoRest or Swagger Codegen."
        },
        "host": host,
        "schemes": ["http", "https"],
        "basePath": "/",
        "paths": paths,
        "definitions": definitions,
    })
}
