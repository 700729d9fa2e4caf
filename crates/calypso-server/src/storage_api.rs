//! The Azure Blob and Queue calls of queued ingestion, path-style under the account of
//! `.get ingestion resources` (`/calypso/<container>/<blob>`, `/calypso/<queue>/messages`),
//! on the same port as the Kusto API (`shared/reference/queued-ingestion.md` §4-6):
//!
//! * blobs: `PUT` (Put Blob; `?comp=block&blockid=` Put Block; `?comp=blocklist` Put Block
//!   List), `GET` (Get Blob), `HEAD` (Get Blob Properties), `DELETE` (Delete Blob);
//! * queues: `POST .../messages` (Put Message), `GET .../messages[?peekonly=true]` (Get or
//!   Peek Messages), `DELETE .../messages/<id>?popreceipt=` (Delete Message).
//!
//! Requests are authorized by their SAS (`Engine::authorize_storage`), not by a bearer
//! token. Answers and errors are Azure's: exact status codes (201 for puts: the SDKs refuse
//! 200), XML bodies, `x-ms-error-code`. The XML is read with `quick-xml`.

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use calypso_engine::queued::{
    ACCOUNT, BlobInfo, Permission, QueueMessage, Resource, StorageError, StorageResult,
    is_container, is_queue,
};
use quick_xml::events::Event;

use crate::state::AppState;

/// The largest request body of a storage call (Put Blob: the Node SDK sends up to 256 MiB
/// in one call).
pub const MAX_STORAGE_BODY: usize = 256 << 20;

/// `/{account}/{*rest}`, every method.
pub(crate) async fn handle(
    State(state): State<AppState>,
    method: Method,
    Path((account, rest)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let query = query.unwrap_or_default();
    let version = headers
        .get("x-ms-version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("2022-11-02")
        .to_string();
    let outcome = route(&state, &method, &account, &rest, &query, &headers, body).await;
    let mut reply = match outcome {
        Ok(r) => r,
        Err(e) => error_reply(&e, &method),
    };
    tracing::debug!(method = %method, path = %rest, comp = param(&query, "comp").unwrap_or_default(), status = reply.status().as_u16(), "storage call");
    let h = reply.headers_mut();
    h.insert("x-ms-request-id", value(&uuid::Uuid::new_v4().to_string()));
    h.insert("x-ms-version", value(&version));
    h.insert(header::DATE, value(&rfc1123(chrono::Utc::now())));
    reply
}

async fn route(
    state: &AppState,
    method: &Method,
    account: &str,
    rest: &str,
    query: &str,
    headers: &HeaderMap,
    body: Body,
) -> StorageResult<Response> {
    if account != ACCOUNT {
        return Err(StorageError::new(
            404,
            "ResourceNotFound",
            format!("The account '{account}' does not exist: this server's is '{ACCOUNT}'."),
        ));
    }
    let (name, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let engine = &state.engine;
    if is_queue(name) {
        let resource = Resource::Queue(name);
        return match (method.as_str(), tail.split_once('/')) {
            ("POST", None) if tail == "messages" => {
                engine
                    .authorize_storage(resource, query, Permission::Add)
                    .await?;
                let body = read(state, body).await?;
                let text = message_text(&body)?;
                let m = engine
                    .put_message(
                        name,
                        text,
                        param_i64(query, "visibilitytimeout")?,
                        param_i64(query, "messagettl")?,
                    )
                    .await?;
                Ok(xml_reply(StatusCode::CREATED, &messages_xml(&[m], false)))
            }
            ("GET", None) if tail == "messages" => {
                let n = param_i64(query, "numofmessages")?.unwrap_or(1);
                let n = usize::try_from(n).unwrap_or(0);
                let peek = param(query, "peekonly").is_some_and(|v| v.eq_ignore_ascii_case("true"));
                let need = if peek {
                    Permission::Read
                } else {
                    Permission::Process
                };
                engine.authorize_storage(resource, query, need).await?;
                let got = if peek {
                    engine.peek_messages(name, n).await?
                } else {
                    engine
                        .get_messages(name, n, param_i64(query, "visibilitytimeout")?)
                        .await?
                };
                Ok(xml_reply(StatusCode::OK, &messages_xml(&got, true)))
            }
            ("DELETE", Some(("messages", id))) if !id.is_empty() => {
                engine
                    .authorize_storage(resource, query, Permission::Process)
                    .await?;
                let receipt = param(query, "popreceipt").ok_or_else(|| {
                    StorageError::new(
                        400,
                        "MissingRequiredQueryParameter",
                        "popreceipt is required.",
                    )
                })?;
                engine.delete_message(name, id, &receipt).await?;
                Ok(empty(StatusCode::NO_CONTENT))
            }
            _ => Err(unsupported(method, rest)),
        };
    }
    if is_container(name) && !tail.is_empty() {
        let resource = Resource::Container(name);
        let blob = tail;
        let comp = param(query, "comp");
        return match (method.as_str(), comp.as_deref()) {
            ("PUT", None) => {
                engine
                    .authorize_storage(resource, query, Permission::Write)
                    .await?;
                let kind = headers.get("x-ms-blob-type").and_then(|v| v.to_str().ok());
                if kind.is_some_and(|k| k != "BlockBlob") {
                    return Err(StorageError::new(
                        400,
                        "InvalidBlobType",
                        "Only block blobs (x-ms-blob-type: BlockBlob) are supported.",
                    ));
                }
                let body = read(state, body).await?;
                let info = engine
                    .put_blob(name, blob, body, if_none_match(headers))
                    .await?;
                Ok(blob_reply(StatusCode::CREATED, &info))
            }
            ("PUT", Some("block")) => {
                engine
                    .authorize_storage(resource, query, Permission::Write)
                    .await?;
                let id = param(query, "blockid").ok_or_else(|| {
                    StorageError::new(400, "MissingRequiredQueryParameter", "blockid is required.")
                })?;
                let body = read(state, body).await?;
                engine.put_block(name, blob, &id, body).await?;
                Ok(empty(StatusCode::CREATED))
            }
            ("PUT", Some("blocklist")) => {
                engine
                    .authorize_storage(resource, query, Permission::Write)
                    .await?;
                let body = read(state, body).await?;
                let ids = block_list(&body)?;
                let info = engine
                    .put_block_list(name, blob, &ids, if_none_match(headers))
                    .await?;
                Ok(blob_reply(StatusCode::CREATED, &info))
            }
            ("GET", None) => {
                engine
                    .authorize_storage(resource, query, Permission::Read)
                    .await?;
                let (info, bytes) = engine.get_blob(name, blob).await?;
                let mut r = blob_reply(StatusCode::OK, &info);
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                *r.body_mut() = Body::from(bytes);
                Ok(r)
            }
            ("HEAD", None) => {
                engine
                    .authorize_storage(resource, query, Permission::Read)
                    .await?;
                let info = engine.blob_properties(name, blob).await?;
                let mut r = blob_reply(StatusCode::OK, &info);
                let h = r.headers_mut();
                h.insert(header::CONTENT_LENGTH, value(&info.size.to_string()));
                h.insert("x-ms-blob-type", HeaderValue::from_static("BlockBlob"));
                Ok(r)
            }
            ("DELETE", None) => {
                engine
                    .authorize_storage(resource, query, Permission::Delete)
                    .await?;
                engine.delete_blob(name, blob).await?;
                Ok(empty(StatusCode::ACCEPTED))
            }
            _ => Err(unsupported(method, rest)),
        };
    }
    Err(StorageError::new(
        404,
        "ResourceNotFound",
        format!("The specified resource '{rest}' does not exist."),
    ))
}

fn unsupported(method: &Method, rest: &str) -> StorageError {
    StorageError::new(
        400,
        "UnsupportedHttpVerb",
        format!("{method} on '{rest}' is not a call this server serves."),
    )
}

/// The body, up to [`MAX_STORAGE_BODY`], with the server's client read timeout.
async fn read(state: &AppState, body: Body) -> StorageResult<Bytes> {
    let ctx = crate::reply::context(&HeaderMap::new());
    crate::request::read_body(body, MAX_STORAGE_BODY, state.client_read_timeout, &ctx)
        .await
        .map_err(|e| {
            let code = if e.status == 413 {
                "RequestBodyTooLarge"
            } else {
                "InvalidInput"
            };
            StorageError::new(e.status, code, e.inner_message)
        })
}

fn param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

fn param_i64(query: &str, name: &str) -> StorageResult<Option<i64>> {
    param(query, name)
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                StorageError::new(
                    400,
                    "InvalidQueryParameterValue",
                    format!("The value '{v}' of '{name}' is not an integer."),
                )
            })
        })
        .transpose()
}

fn if_none_match(headers: &HeaderMap) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "*")
}

/// The texts of the elements of `body` whose names are in `names`, in document order.
fn element_texts(body: &[u8], names: &[&str]) -> StorageResult<Vec<String>> {
    let bad = |e: String| {
        StorageError::new(
            400,
            "InvalidXmlDocument",
            format!("The XML is not valid: {e}"),
        )
    };
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut out = Vec::new();
    let mut inside: Option<String> = None;
    let mut buf = Vec::new();
    loop {
        match reader
            .read_event_into(&mut buf)
            .map_err(|e| bad(e.to_string()))?
        {
            Event::Start(e) => {
                let name = e.name().as_ref().to_string();
                if names.contains(&name.as_str()) {
                    inside = Some(String::new());
                }
            }
            Event::Text(t) => {
                if let Some(text) = inside.as_mut() {
                    // Entities come as their own events (below).
                    text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(text) = inside.as_mut() {
                    let entity = format!("&{};", r.xml10_content());
                    let resolved =
                        quick_xml::escape::unescape(&entity).map_err(|e| bad(e.to_string()))?;
                    text.push_str(&resolved);
                }
            }
            Event::End(e) => {
                let name = e.name().as_ref().to_string();
                if names.contains(&name.as_str())
                    && let Some(text) = inside.take()
                {
                    out.push(text);
                }
            }
            Event::Empty(e) => {
                let name = e.name().as_ref().to_string();
                if names.contains(&name.as_str()) {
                    out.push(String::new());
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

/// The `MessageText` of a Put Message body.
fn message_text(body: &[u8]) -> StorageResult<String> {
    element_texts(body, &["MessageText"])?
        .into_iter()
        .next()
        .ok_or_else(|| {
            StorageError::new(400, "InvalidXmlDocument", "The body has no <MessageText>.")
        })
}

/// The block ids of a Put Block List body (`Latest`, `Committed`, `Uncommitted`).
fn block_list(body: &[u8]) -> StorageResult<Vec<String>> {
    element_texts(body, &["Latest", "Committed", "Uncommitted"])
}

fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

fn rfc1123(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// A `QueueMessagesList` (Put Message answers id, times and pop receipt; Get and Peek add
/// the dequeue count and the text).
fn messages_xml(messages: &[QueueMessage], with_text: bool) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?><QueueMessagesList>");
    for m in messages {
        out.push_str("<QueueMessage>");
        out.push_str(&format!("<MessageId>{}</MessageId>", escape(&m.id)));
        out.push_str(&format!(
            "<InsertionTime>{}</InsertionTime>",
            rfc1123(m.inserted)
        ));
        out.push_str(&format!(
            "<ExpirationTime>{}</ExpirationTime>",
            rfc1123(m.expires)
        ));
        if let Some(receipt) = &m.pop_receipt {
            out.push_str(&format!("<PopReceipt>{}</PopReceipt>", escape(receipt)));
            out.push_str(&format!(
                "<TimeNextVisible>{}</TimeNextVisible>",
                rfc1123(m.next_visible)
            ));
        }
        if with_text {
            out.push_str(&format!("<DequeueCount>{}</DequeueCount>", m.dequeue_count));
            out.push_str(&format!("<MessageText>{}</MessageText>", escape(&m.text)));
        }
        out.push_str("</QueueMessage>");
    }
    out.push_str("</QueueMessagesList>");
    out
}

fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

fn xml_reply(status: StatusCode, xml: &str) -> Response {
    let mut r = Response::new(Body::from(xml.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    r
}

fn blob_reply(status: StatusCode, info: &BlobInfo) -> Response {
    let mut r = empty(status);
    let h = r.headers_mut();
    h.insert(header::ETAG, value(&info.etag()));
    h.insert(header::LAST_MODIFIED, value(&rfc1123(info.last_modified)));
    h.insert(
        "x-ms-request-server-encrypted",
        HeaderValue::from_static("true"),
    );
    r
}

/// Azure's error reply: the status, `x-ms-error-code` and an XML `Error` (no body for
/// `HEAD`).
fn error_reply(e: &StorageError, method: &Method) -> Response {
    tracing::info!(status = e.status, code = e.code, message = %e.message, "storage call failed");
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{}</Code><Message>{}</Message></Error>",
        escape(e.code),
        escape(&e.message)
    );
    let mut r = if method == Method::HEAD {
        empty(StatusCode::OK)
    } else {
        xml_reply(StatusCode::OK, &body)
    };
    *r.status_mut() = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert("x-ms-error-code", value(e.code));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdks_xml_bodies_are_read() {
        let python = b"<?xml version='1.0' encoding='utf-8'?>\n<QueueMessage><MessageText>eyJh&#43;Ig==</MessageText></QueueMessage>";
        assert_eq!(message_text(python).ok().as_deref(), Some("eyJh+Ig=="));
        let node = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><QueueMessage><MessageText>e30=</MessageText></QueueMessage>"#;
        assert_eq!(message_text(node).ok().as_deref(), Some("e30="));
        let list = b"<?xml version='1.0' encoding='utf-8'?>\n<BlockList><Latest>TURBd01EQSUzRA==</Latest><Committed>a&amp;b</Committed><Uncommitted>c</Uncommitted></BlockList>";
        assert_eq!(
            block_list(list).ok(),
            Some(vec![
                "TURBd01EQSUzRA==".to_string(),
                "a&b".into(),
                "c".into()
            ])
        );
        assert!(message_text(b"<QueueMessage></QueueMessage>").is_err());
        assert!(block_list(b"<BlockList><Latest>x</Wrong></BlockList>").is_err());
    }

    #[test]
    fn message_lists_are_escaped() {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
        let m = QueueMessage {
            id: "id".into(),
            text: "a<b".into(),
            inserted: now,
            expires: now,
            pop_receipt: Some("r".into()),
            next_visible: now,
            dequeue_count: 1,
        };
        let xml = messages_xml(&[m], true);
        assert!(xml.contains("<MessageText>a&lt;b</MessageText>"), "{xml}");
        assert!(
            xml.contains("<InsertionTime>Tue, 14 Nov 2023 22:13:20 GMT</InsertionTime>"),
            "{xml}"
        );
        assert!(xml.contains("<PopReceipt>r</PopReceipt>"), "{xml}");
    }
}
