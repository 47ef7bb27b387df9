//! The local storage backend: objects as files under `DATA_DIR/media`, each with a `.meta`
//! sidecar (content type, size) as S3 keeps object metadata. The app serves them itself
//! through URLs that carry an expiry and an HMAC signature, and accepts uploads the same
//! way S3 accepts presigned PUTs: the signature covers the exact content type and length,
//! and anything else is refused. Bodies stream to disk, so memory stays flat whatever the
//! size.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{ObjectMeta, StorageError, StorageKey};
use crate::crypto::{constant_time_eq, hmac_b64};
use crate::error::AppError;
use crate::state::AppState;

/// Files under a root directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
    urls: Option<LocalUrls>,
}

/// Signs and checks the app's own storage URLs.
#[derive(Clone)]
pub struct LocalUrls {
    base: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for LocalUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalUrls")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    content_type: String,
    size: u64,
}

/// A local object key must be one we made: no traversal, no hidden files.
fn checked(key: &str) -> Result<&str, StorageError> {
    let ok = !key.is_empty()
        && key.len() <= 300
        && key
            .split('/')
            .all(|seg| !seg.is_empty() && !seg.starts_with('.'))
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    if ok {
        Ok(key)
    } else {
        Err(StorageError::NotFound)
    }
}

impl LocalStore {
    /// Objects under `root`; `urls` signs links (HTTP roles only).
    pub fn new(root: PathBuf, urls: Option<LocalUrls>) -> LocalStore {
        LocalStore { root, urls }
    }

    fn path(&self, key: &str) -> Result<PathBuf, StorageError> {
        Ok(self.root.join(checked(key)?))
    }

    fn meta_path(path: &Path) -> PathBuf {
        let mut p = path.as_os_str().to_owned();
        p.push(".meta");
        PathBuf::from(p)
    }

    /// The URL signer (HTTP roles).
    pub fn urls(&self) -> Result<&LocalUrls, StorageError> {
        self.urls
            .as_ref()
            .ok_or_else(|| StorageError::Other("this role cannot sign storage URLs".into()))
    }

    /// Size and type of an object, if it exists.
    pub async fn head(&self, key: &StorageKey) -> Result<Option<ObjectMeta>, StorageError> {
        let path = self.path(key.as_str())?;
        match tokio::fs::read(Self::meta_path(&path)).await {
            Ok(bytes) => {
                let meta: Meta = serde_json::from_slice(&bytes)
                    .map_err(|e| StorageError::Other(e.to_string()))?;
                Ok(Some(ObjectMeta {
                    size: meta.size,
                    content_type: meta.content_type,
                }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes an object from a stream of chunks, which must total exactly `length` bytes;
    /// the object appears (atomically) only when complete.
    pub async fn put_stream<S, E>(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        mut body: S,
    ) -> Result<(), StorageError>
    where
        S: futures::Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let path = self.path(key)?;
        let dir = path.parent().ok_or(StorageError::NotFound)?;
        tokio::fs::create_dir_all(dir).await?;
        let tmp = dir.join(format!(".upload-{}", uuid::Uuid::new_v4().simple()));
        let result = async {
            let mut file = tokio::fs::File::create(&tmp).await?;
            let mut written: u64 = 0;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| {
                    StorageError::BadBody(format!("the upload was interrupted: {e}"))
                })?;
                written += chunk.len() as u64;
                if written > length {
                    return Err(StorageError::BadBody(
                        "the body is longer than its signed length".into(),
                    ));
                }
                file.write_all(&chunk).await?;
            }
            if written != length {
                return Err(StorageError::BadBody(format!(
                    "the body has {written} bytes, not the signed {length}"
                )));
            }
            file.sync_all().await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        let meta = serde_json::to_vec(&Meta {
            content_type: content_type.to_owned(),
            size: length,
        })
        .map_err(|e| StorageError::Other(e.to_string()))?;
        let meta_tmp = dir.join(format!(".meta-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&meta_tmp, meta).await?;
        tokio::fs::rename(&tmp, &path).await?;
        tokio::fs::rename(&meta_tmp, Self::meta_path(&path)).await?;
        Ok(())
    }

    /// Writes an object from a local file.
    pub async fn put_file(
        &self,
        key: &StorageKey,
        source: &Path,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let file = tokio::fs::File::open(source).await?;
        let length = file.metadata().await?.len();
        let stream = tokio_util::io::ReaderStream::new(file);
        self.put_stream(key.as_str(), content_type, length, stream)
            .await
    }

    /// Copies an object into a local file.
    pub async fn get_to_file(
        &self,
        key: &StorageKey,
        dest: &Path,
    ) -> Result<ObjectMeta, StorageError> {
        let meta = self.head(key).await?.ok_or(StorageError::NotFound)?;
        tokio::fs::copy(self.path(key.as_str())?, dest).await?;
        Ok(meta)
    }

    /// Deletes an object; deleting what is not there is fine.
    pub async fn delete(&self, key: &StorageKey) -> Result<(), StorageError> {
        let path = self.path(key.as_str())?;
        for p in [Self::meta_path(&path), path] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Deletes every object under a prefix (an asset's directory).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        let dir = self.path(prefix.trim_end_matches('/'))?;
        let mut count = 0;
        match tokio::fs::read_dir(&dir).await {
            Ok(mut entries) => {
                while let Some(e) = entries.next_entry().await? {
                    if !e.file_name().to_string_lossy().ends_with(".meta") {
                        count += 1;
                    }
                }
                tokio::fs::remove_dir_all(&dir).await?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        Ok(count)
    }

    /// Keys of every object, for tests and audits.
    pub async fn list(&self) -> Result<Vec<String>, StorageError> {
        let mut out = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
                continue;
            };
            while let Some(e) = entries.next_entry().await? {
                let path = e.path();
                if e.file_type().await?.is_dir() {
                    stack.push(path);
                } else if let Ok(rel) = path.strip_prefix(&self.root) {
                    let rel = rel.to_string_lossy().into_owned();
                    if !rel.ends_with(".meta")
                        && !rel.rsplit('/').next().unwrap_or("").starts_with('.')
                    {
                        out.push(rel);
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

impl LocalUrls {
    /// Signs with a key derived from the session secret, for links under `base`.
    pub fn new(base: &url::Url, secret: &[u8]) -> LocalUrls {
        // A key of its own, so a storage signature can never pass as any other.
        let key = hmac_b64(secret, b"zinovia-local-storage-v1").into_bytes();
        LocalUrls {
            base: base.as_str().trim_end_matches('/').to_owned(),
            key,
        }
    }

    fn get_signature(&self, key: &str, expires: i64) -> String {
        hmac_b64(&self.key, format!("GET\n{key}\n{expires}").as_bytes())
    }

    fn put_signature(&self, key: &str, expires: i64, content_type: &str, length: u64) -> String {
        hmac_b64(
            &self.key,
            format!("PUT\n{key}\n{expires}\n{content_type}\n{length}").as_bytes(),
        )
    }

    /// A download URL valid until `expires` (Unix seconds).
    pub fn sign_get(&self, key: &StorageKey, expires: i64) -> String {
        let key = key.as_str();
        format!(
            "{}/storage/{key}?expires={expires}&signature={}",
            self.base,
            self.get_signature(key, expires)
        )
    }

    fn prefix_signature(&self, prefix: &str, expires: i64) -> String {
        hmac_b64(
            &self.key,
            format!("GET-PREFIX\n{prefix}\n{expires}").as_bytes(),
        )
    }

    /// One grant for every file under `prefix` until `expires`: the URL of the prefix and
    /// the query string to append to any file's URL under it (an HLS stream is signed
    /// once, not per segment). Only an asset's `hls/` folder can be granted so.
    pub fn sign_prefix(&self, prefix: &str, expires: i64) -> Option<(String, String)> {
        if !is_grantable_prefix(prefix) {
            return None;
        }
        Some((
            format!("{}/storage/{prefix}", self.base),
            format!(
                "expires={expires}&prefix={prefix}&signature={}",
                self.prefix_signature(prefix, expires)
            ),
        ))
    }

    /// Whether a download of `key` is allowed at `now` by this query: the file's own
    /// signature, or a grant of a prefix it is under. `Err` says why not (for the log).
    pub fn verify_get(&self, key: &str, q: &GetQuery, now: i64) -> Result<i64, &'static str> {
        let expected = match &q.prefix {
            Some(prefix) => {
                if !is_grantable_prefix(prefix) || !key.starts_with(prefix.as_str()) {
                    return Err("the file is not under the granted prefix");
                }
                self.prefix_signature(prefix, q.expires)
            }
            None => self.get_signature(key, q.expires),
        };
        if !constant_time_eq(&expected, &q.signature) {
            return Err("download signature does not match");
        }
        let remaining = q.expires - now;
        if remaining < 0 {
            return Err("download URL expired");
        }
        Ok(remaining)
    }

    /// An upload URL for exactly `length` bytes of `content_type`, valid until `expires`.
    pub fn sign_put(
        &self,
        key: &StorageKey,
        content_type: &str,
        length: u64,
        expires: i64,
    ) -> String {
        let key = key.as_str();
        let ct: String = url::form_urlencoded::byte_serialize(content_type.as_bytes()).collect();
        format!(
            "{}/storage/upload/{key}?expires={expires}&type={ct}&length={length}&signature={}",
            self.base,
            self.put_signature(key, expires, content_type, length)
        )
    }
}

/// `media/<uuid>/hls/`: the only prefix a grant may cover.
fn is_grantable_prefix(prefix: &str) -> bool {
    prefix
        .strip_prefix("media/")
        .and_then(|rest| rest.strip_suffix("/hls/"))
        .is_some_and(|id| id.len() == 36 && uuid::Uuid::parse_str(id).is_ok())
}

/// Query of a signed download URL: a file's own signature, or a prefix grant.
#[derive(Debug, Deserialize)]
pub struct GetQuery {
    expires: i64,
    /// Set for a prefix grant.
    prefix: Option<String>,
    signature: String,
}

/// Query of a signed upload URL.
#[derive(Debug, Deserialize)]
pub struct PutQuery {
    expires: i64,
    #[serde(rename = "type")]
    content_type: String,
    length: u64,
    signature: String,
}

fn local(state: &AppState) -> Result<&LocalStore, AppError> {
    match state.storage()?.backend() {
        super::Backend::Local(l) => Ok(l),
        super::Backend::S3(_) => Err(AppError::NotFound),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// S3's answer to a bad signature, in our envelope.
fn refused(why: &str) -> AppError {
    tracing::info!(why, "refused a storage request");
    AppError::Forbidden
}

/// `PUT /storage/upload/{key}`: the local counterpart of a presigned S3 PUT.
pub async fn put_object(
    State(state): State<AppState>,
    UrlPath(key): UrlPath<String>,
    Query(q): Query<PutQuery>,
    req: Request,
) -> Result<Response, AppError> {
    let store = local(&state)?;
    let urls = store.urls().map_err(|e| AppError::Internal(e.into()))?;
    let expected = urls.put_signature(&key, q.expires, &q.content_type, q.length);
    if !constant_time_eq(&expected, &q.signature) {
        return Err(refused("upload signature does not match"));
    }
    if q.expires < now() {
        return Err(refused("upload URL expired"));
    }
    let headers = req.headers();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some(q.content_type.as_str()) {
        return Err(refused("content type differs from the signed one"));
    }
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if length != Some(q.length) {
        return Err(refused("content length differs from the signed one"));
    }
    let stream = req.into_body().into_data_stream();
    match store
        .put_stream(&key, &q.content_type, q.length, stream)
        .await
    {
        Ok(()) => Ok(StatusCode::OK.into_response()),
        Err(StorageError::BadBody(why)) => Err(AppError::BadRequest(why)),
        Err(StorageError::NotFound) => Err(AppError::NotFound),
        Err(e) => Err(AppError::Internal(e.into())),
    }
}

/// `GET /storage/{key}`: the local counterpart of a presigned S3 GET, with `Range`.
pub async fn get_object(
    State(state): State<AppState>,
    UrlPath(key): UrlPath<String>,
    Query(q): Query<GetQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let store = local(&state)?;
    let urls = store.urls().map_err(|e| AppError::Internal(e.into()))?;
    let remaining = urls.verify_get(&key, &q, now()).map_err(refused)?;
    let path = store.path(&key).map_err(|_| AppError::NotFound)?;
    let meta = store
        .head(&StorageKey::trusted(key.clone()))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .ok_or(AppError::NotFound)?;
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| AppError::NotFound)?;
    let modified = file
        .metadata()
        .await
        .ok()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let etag = format!("\"{:x}-{modified:x}\"", meta.size);
    let mut out = HeaderMap::new();
    let ct = HeaderValue::from_str(&meta.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    out.insert(header::CONTENT_TYPE, ct);
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("private, max-age={remaining}")) {
        out.insert(header::CACHE_CONTROL, v);
    }
    // Media is data, never a document that could run script in our origin.
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|r| parse_range(r, meta.size));
    let (status, start, len) = match range {
        None => (StatusCode::OK, 0, meta.size),
        Some(Some((start, end))) => {
            let value = format!("bytes {start}-{end}/{}", meta.size);
            if let Ok(v) = HeaderValue::from_str(&value) {
                out.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        Some(None) => return Err(AppError::RangeNotSatisfiable(meta.size)),
    };
    if start > 0 {
        file.seek(SeekFrom::Start(start))
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file.take(len)));
    Ok((status, out, body).into_response())
}

/// Parses one `bytes=` range against `size`: `Some(Some((first, last)))` when satisfiable,
/// `Some(None)` when not. Several ranges are answered with the first one, as S3 does.
fn parse_range(header: &str, size: u64) -> Option<(u64, u64)> {
    let spec = header.strip_prefix("bytes=")?.split(',').next()?.trim();
    let (a, b) = spec.split_once('-')?;
    if size == 0 {
        return None;
    }
    let (start, end) = if a.is_empty() {
        let suffix: u64 = b.parse().ok()?;
        if suffix == 0 {
            return None;
        }
        (size.saturating_sub(suffix), size - 1)
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() {
            size - 1
        } else {
            b.parse::<u64>().ok()?.min(size - 1)
        };
        (start, end)
    };
    (start <= end && start < size).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=95-200", 100), Some((95, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-2", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[test]
    fn a_prefix_grant_opens_its_asset_hls_files_only_until_it_expires() {
        let urls = LocalUrls::new(&url::Url::parse("http://127.0.0.1:1").unwrap(), b"secret");
        let id = "0192c3a4-5b6c-7d8e-9f00-112233445566";
        let other = "0192c3a4-5b6c-7d8e-9f00-112233445567";
        let prefix = format!("media/{id}/hls/");
        let (base, query) = urls.sign_prefix(&prefix, 1_000).unwrap();
        assert_eq!(base, format!("http://127.0.0.1:1/storage/{prefix}"));
        let parse = |q: &str| -> GetQuery {
            serde_json::from_value(serde_json::Value::Object(
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| {
                        let v = if k == "expires" {
                            serde_json::json!(v.parse::<i64>().unwrap())
                        } else {
                            serde_json::json!(v)
                        };
                        (k.into_owned(), v)
                    })
                    .collect(),
            ))
            .unwrap()
        };
        let q = parse(&query);
        assert_eq!(
            urls.verify_get(&format!("{prefix}720p/s3.m4s"), &q, 999),
            Ok(1)
        );
        assert_eq!(
            urls.verify_get(&format!("{prefix}master.m3u8"), &q, 1_000),
            Ok(0)
        );
        // Expired; another asset's files; the asset's other files; a forged prefix.
        assert!(
            urls.verify_get(&format!("{prefix}720p/s3.m4s"), &q, 1_001)
                .is_err()
        );
        assert!(
            urls.verify_get(&format!("media/{other}/hls/720p/s3.m4s"), &q, 999)
                .is_err()
        );
        assert!(
            urls.verify_get(&format!("media/{id}/full.webp"), &q, 999)
                .is_err()
        );
        assert!(urls.verify_get(&format!("uploads/{id}"), &q, 999).is_err());
        let forged = parse(&query.replace(id, other));
        assert!(
            urls.verify_get(&format!("media/{other}/hls/s0.m4s"), &forged, 999)
                .is_err()
        );
        let tampered = parse(&query.replace("expires=1000", "expires=9000"));
        assert!(
            urls.verify_get(&format!("{prefix}s0.m4s"), &tampered, 999)
                .is_err()
        );
        // Only an asset's hls folder can be granted.
        for bad in [
            "media/",
            "",
            "uploads/",
            &format!("media/{id}/"),
            "media/x/hls/",
        ] {
            assert!(urls.sign_prefix(bad, 1_000).is_none(), "{bad}");
        }
        // A single file's own signature still works, and not for another file.
        let one = urls.sign_get(&StorageKey::trusted(format!("media/{id}/grid.webp")), 1_000);
        let q = parse(one.split_once('?').unwrap().1);
        assert!(
            urls.verify_get(&format!("media/{id}/grid.webp"), &q, 999)
                .is_ok()
        );
        assert!(
            urls.verify_get(&format!("media/{id}/full.webp"), &q, 999)
                .is_err()
        );
    }

    #[test]
    fn only_keys_we_make_are_accepted() {
        for ok in [
            "uploads/0192c3a4-5b6c-7d8e-9f00-112233445566",
            "media/abc/grid.webp",
        ] {
            assert!(checked(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../etc/passwd",
            "media/../x",
            "media//x",
            "media/.hidden",
            "a b",
            "x\\y",
        ] {
            assert!(checked(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signatures_cover_every_signed_part() {
        let urls = LocalUrls::new(&url::Url::parse("http://h/").unwrap(), b"secret");
        let sig = urls.put_signature("uploads/a", 100, "image/jpeg", 10);
        assert_ne!(sig, urls.put_signature("uploads/b", 100, "image/jpeg", 10));
        assert_ne!(sig, urls.put_signature("uploads/a", 101, "image/jpeg", 10));
        assert_ne!(sig, urls.put_signature("uploads/a", 100, "text/html", 10));
        assert_ne!(sig, urls.put_signature("uploads/a", 100, "image/jpeg", 11));
        assert_ne!(urls.get_signature("uploads/a", 100), sig);
    }
}
