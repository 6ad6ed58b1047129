//! Extractors that read a request the way the console's API promises: whatever does not parse
//! answers with the error envelope (400, 413 or 415), never axum's plain-text rejection, and a
//! body is read strictly. It must be a JSON object with only the fields the route knows, so
//! `[]`, `"x"` or a misspelt `{"backupId": 5}` can never be taken for "no body" and start a backup
//! with a proposed ID.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ApiError;

/// A required JSON object body.
pub struct Body<T>(pub T);

/// A JSON object body that may be left out: an empty body reads as `None`.
pub struct OptionalBody<T>(pub Option<T>);

/// A route that takes no body: an empty one, or `{}`.
pub struct NoBody;

/// Path parameters, refused with the envelope when they do not parse.
pub struct ApiPath<T>(pub T);

/// Query parameters, refused with the envelope when they do not parse.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match read_object(req, state).await? {
            Some(object) => Ok(Body(fit(object)?)),
            None => Err(ApiError::BadRequest(
                "this request needs a JSON object body".into(),
            )),
        }
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match read_object(req, state).await? {
            Some(object) => Ok(OptionalBody(Some(fit(object)?))),
            None => Ok(OptionalBody(None)),
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match read_object(req, state).await? {
            Some(object) if object.as_object().is_some_and(|o| o.is_empty()) => Ok(NoBody),
            Some(_) => Err(ApiError::BadRequest(
                "this request takes no fields: send no body or {}".into(),
            )),
            None => Ok(NoBody),
        }
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|e| ApiError::BadRequest(format!("the path does not fit: {}", e.body_text())))
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs = form_urlencoded::parse(query.as_bytes());
        let mut unknown = Vec::new();
        let value: T =
            serde_ignored::deserialize(serde_urlencoded::Deserializer::new(pairs), |path| {
                unknown.push(path.to_string())
            })
            .map_err(|e| ApiError::BadRequest(format!("the query does not fit: {e}")))?;
        if unknown.is_empty() {
            Ok(ApiQuery(value))
        } else {
            // A misspelt filter (`?usr=`) must not read as "no filter".
            Err(ApiError::BadRequest(format!(
                "unknown query parameter{}: {}",
                if unknown.len() == 1 { "" } else { "s" },
                unknown.join(", ")
            )))
        }
    }
}

/// The body as a JSON object, or `None` when it is empty. Anything else is refused.
async fn read_object<S: Send + Sync>(req: Request, state: &S) -> Result<Option<Value>, ApiError> {
    let is_json = is_json(req.headers());
    let bytes = Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest(format!("the body could not be read: {}", e.body_text()))
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    // Parsed into a map the last of two equal keys wins, while a log or a reviewer reads the first:
    // `{"soft": true, "soft": false}` must not be a hard pause.
    serde_json::from_slice::<UniqueKeys>(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is ambiguous: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::BadRequest(format!(
            "the body must be a JSON object, not {}",
            kind(&value)
        )));
    }
    Ok(Some(value))
}

/// The object as `T`, refusing fields `T` does not know (a typo must not silently mean "unset").
fn fit<T: DeserializeOwned>(object: Value) -> Result<T, ApiError> {
    let mut unknown = Vec::new();
    let value: T = serde_ignored::deserialize(object, |path| unknown.push(path.to_string()))
        .map_err(|e| ApiError::BadRequest(format!("the body does not fit: {e}")))?;
    if unknown.is_empty() {
        Ok(value)
    } else {
        Err(ApiError::BadRequest(format!(
            "unknown field{} in the body: {}",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", ")
        )))
    }
}

/// A JSON document read only to refuse an object with the same key twice, at any depth.
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "the key `{key}` appears twice"
                )));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| m == "application/json" || m.ends_with("+json"))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Start {
        backup_id: Option<u64>,
    }

    #[test]
    fn an_unknown_field_is_refused_and_named() {
        let err = fit::<Start>(serde_json::json!({"backupId": 5})).unwrap_err();
        assert!(err.to_string().contains("backupId"), "{err}");
    }

    #[test]
    fn a_known_field_of_the_wrong_type_is_refused() {
        assert!(fit::<Start>(serde_json::json!({"backup_id": "1"})).is_err());
    }

    #[test]
    fn a_key_given_twice_is_refused_at_any_depth() {
        assert!(serde_json::from_str::<UniqueKeys>(r#"{"soft": true, "soft": false}"#).is_err());
        assert!(serde_json::from_str::<UniqueKeys>(r#"{"a": [{"b": 1, "b": 2}]}"#).is_err());
        assert!(serde_json::from_str::<UniqueKeys>(r#"{"a": {"b": 1}, "b": [1, 1]}"#).is_ok());
    }

    #[test]
    fn an_empty_object_fits_a_struct_of_optional_fields() {
        assert_eq!(
            fit::<Start>(serde_json::json!({})).unwrap(),
            Start { backup_id: None }
        );
    }

    #[test]
    fn json_media_types_are_recognised_with_parameters_and_suffixes() {
        let mut headers = HeaderMap::new();
        for (value, expected) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/jsonx", false),
        ] {
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json(&headers), expected, "{value}");
        }
    }
}
