//! Object storage shared by the API and the worker: one interface over the local disk and
//! S3 (chosen only by `STORAGE`), typed keys, presigned uploads, and signed delivery URLs
//! (the app's own, S3 presigned, or CloudFront).
//!
//! Keys are built only by [`StorageKey`]'s constructors from server-made ids, never from a
//! user's file name. Delivery URLs are made per minute: every viewer in the same minute
//! gets the same URL (expiry = end of the minute + `MEDIA_URL_TTL`), so browsers and the CDN
//! can cache it. Whether someone may have a URL at all is decided before, by the caller's
//! entitlement check.

pub mod cloudfront;
pub mod local;
pub mod s3;
mod sigv4;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::config::{Settings, StorageBackend};
use cloudfront::{CloudFrontSigner, SigningKey};
use local::{LocalStore, LocalUrls};
use s3::S3Store;

/// A storage key. Only the constructors below make new ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StorageKey(String);

impl StorageKey {
    /// Where an upload's bytes land.
    pub fn upload(asset: Uuid) -> StorageKey {
        StorageKey(format!("uploads/{asset}"))
    }

    /// A processed file of an asset (`name` is one of the pipeline's fixed names).
    pub fn variant(asset: Uuid, name: &str) -> Option<StorageKey> {
        let mut key = String::with_capacity(48 + name.len());
        StorageKey::push_variant(&mut key, asset, name).then_some(StorageKey(key))
    }

    /// Appends the key of [`StorageKey::variant`] to `out` (listings build a page's keys in
    /// one buffer); `false`, and nothing appended, for a name that is not a variant's.
    pub fn push_variant(out: &mut String, asset: Uuid, name: &str) -> bool {
        let ok = !name.is_empty()
            && name.len() <= 40
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if ok {
            out.push_str("media/");
            out.push_str(asset.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
            out.push('/');
            out.push_str(name);
        }
        ok
    }

    /// A file of an asset's HLS stream: `rel` is `hls/` and then one or two names that a
    /// variant could have (`hls/master.m3u8`, `hls/720p/s3.m4s`, `hls/sb/0.jpg`).
    pub fn hls(asset: Uuid, rel: &str) -> Option<StorageKey> {
        let rest = rel.strip_prefix("hls/")?;
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() > 2 {
            return None;
        }
        let mut key = String::with_capacity(56 + rel.len());
        for part in &parts {
            // Each part is checked by the variant rule (no dots first, no separators).
            let mut probe = String::new();
            if !StorageKey::push_variant(&mut probe, asset, part) {
                return None;
            }
        }
        key.push_str(&StorageKey::asset_prefix(asset));
        key.push_str(rel);
        Some(StorageKey(key))
    }

    /// The prefix holding every processed file of an asset.
    pub fn asset_prefix(asset: Uuid) -> String {
        format!("media/{asset}/")
    }

    /// A verification document (`name`: `id_document` or `selfie`), under the private
    /// prefix that no CDN serves and no listing shows.
    pub fn verification(attempt: Uuid, name: &str) -> StorageKey {
        StorageKey(format!(
            "{}{name}",
            StorageKey::verification_prefix(attempt)
        ))
    }

    /// The prefix of one verification attempt's documents.
    pub fn verification_prefix(attempt: Uuid) -> String {
        format!("private/verification/{attempt}/")
    }

    /// A key read back from our own database.
    pub fn trusted(key: String) -> StorageKey {
        StorageKey(key)
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What storage knows about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Bytes.
    pub size: u64,
    /// Content type it was stored with.
    pub content_type: String,
}

/// How a client uploads straight to storage.
#[derive(Debug, Clone)]
pub struct PresignedUpload {
    /// HTTP method (`PUT`).
    pub method: String,
    /// Where to send it.
    pub url: String,
    /// Headers the client must send exactly (content type and length are signed).
    pub headers: BTreeMap<String, String>,
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No such object (or a key we would never make).
    #[error("no such object")]
    NotFound,
    /// An upload body that does not match what was signed.
    #[error("{0}")]
    BadBody(String),
    /// The disk.
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
    /// S3 said no, or could not be reached.
    #[error("S3: {0}")]
    S3(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A storage backend.
#[derive(Debug, Clone)]
pub enum Backend {
    /// Local files.
    Local(LocalStore),
    /// S3 or compatible.
    S3(S3Store),
}

/// Storage plus the delivery signer.
#[derive(Debug, Clone)]
pub struct Storage {
    backend: Backend,
    cdn: Option<CloudFrontSigner>,
    urls: std::sync::Arc<std::sync::Mutex<MinuteUrls>>,
}

/// The delivery URLs signed in the current minute: every viewer in a minute gets the same
/// URL, so each is signed once per minute (CloudFront's RSA signatures cost ~1 ms each).
#[derive(Debug, Default)]
struct MinuteUrls {
    minute: i64,
    /// The validity window the URLs were signed for (other windows are not cached).
    window: i64,
    map: std::collections::HashMap<String, SignedUrl>,
}

/// A signed delivery URL, kept with its JSON form: listings carry up to 180 of them, and
/// writing the cached JSON form is a copy where escaping each URL again cost a tenth of the
/// read path's CPU. Cheap to clone (shared).
#[derive(Clone)]
pub struct SignedUrl(std::sync::Arc<SignedUrlInner>);

struct SignedUrlInner {
    text: String,
    json: Box<serde_json::value::RawValue>,
}

impl SignedUrl {
    /// Wraps a URL (escaped for JSON once, here).
    pub fn new(text: String) -> SignedUrl {
        let json = serde_json::value::to_raw_value(&text)
            .unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned());
        SignedUrl(std::sync::Arc::new(SignedUrlInner { text, json }))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    /// The URL as a JSON string (quoted and escaped).
    pub fn json(&self) -> &str {
        self.0.json.get()
    }
}

impl std::fmt::Debug for SignedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The signature is a credential for the object: not for logs.
        let text = self.as_str();
        let shown = text.split_once('?').map_or(text, |(path, _)| path);
        write!(f, "SignedUrl({shown}?…)")
    }
}

impl serde::Serialize for SignedUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // For serde_json (the only format the API writes), a raw value is written as it is.
        self.0.json.serialize(s)
    }
}

/// At most this many URLs are kept per minute.
const MINUTE_URLS_MAX: usize = 200_000;

impl Storage {
    /// The storage the settings ask for. `url_secret` (the session secret of HTTP roles)
    /// keys local storage URLs; roles without it cannot sign local links.
    pub async fn from_settings(
        settings: &Settings,
        url_secret: Option<&SecretString>,
    ) -> anyhow::Result<Storage> {
        let m = &settings.media;
        let backend = match m.storage {
            StorageBackend::Local => {
                let urls = url_secret.map(|s| {
                    LocalUrls::new(&settings.public_base_url(), s.expose_secret().as_bytes())
                });
                Backend::Local(LocalStore::new(settings.data_dir().join("media"), urls))
            }
            StorageBackend::S3 => Backend::S3(S3Store::new(m).await?),
        };
        let cdn = match (
            &m.cdn_base_url,
            &m.cloudfront_key_pair_id,
            &m.cloudfront_private_key,
        ) {
            (Some(base), Some(id), Some(key)) => {
                let key = SigningKey::from_pem(key.expose_secret())
                    .map_err(|e| anyhow::anyhow!("CLOUDFRONT_PRIVATE_KEY: {e}"))?;
                Some(CloudFrontSigner::new(base, id, key))
            }
            _ => None,
        };
        Ok(Storage {
            backend,
            cdn,
            urls: Default::default(),
        })
    }

    /// The backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// An upload URL for exactly `length` bytes of `content_type`, and when it expires.
    pub async fn presign_upload(
        &self,
        key: &StorageKey,
        content_type: &str,
        length: u64,
        valid_for: Duration,
    ) -> Result<(PresignedUpload, DateTime<Utc>), StorageError> {
        let expires_at = Utc::now() + chrono::Duration::from_std(valid_for).unwrap_or_default();
        let upload = match &self.backend {
            Backend::S3(s) => s.presign_put(key, content_type, length, valid_for).await?,
            Backend::Local(l) => {
                let url = l
                    .urls()?
                    .sign_put(key, content_type, length, expires_at.timestamp());
                PresignedUpload {
                    method: "PUT".into(),
                    url,
                    headers: BTreeMap::from([
                        ("content-type".to_owned(), content_type.to_owned()),
                        ("content-length".to_owned(), length.to_string()),
                    ]),
                }
            }
        };
        Ok((upload, expires_at))
    }

    /// A delivery URL for `key`, the same for every request in the current minute, valid
    /// until the end of the minute plus `valid_for`. CloudFront when configured.
    pub async fn signed_url(
        &self,
        key: &StorageKey,
        valid_for: Duration,
    ) -> Result<(String, DateTime<Utc>), StorageError> {
        let (mut urls, expires_at) = self.signed_urls(&[key.as_str()], valid_for).await?;
        let url = urls
            .pop()
            .ok_or_else(|| StorageError::Other("nothing signed".into()))?;
        Ok((url.as_str().to_owned(), expires_at))
    }

    /// Delivery URLs for files of an asset's HLS stream (`rels` under `media/<id>/hls/`,
    /// e.g. `720p/s3.m4s`), valid until the end of the minute plus `valid_for`. Local
    /// storage and CloudFront sign the stream's folder once (an HMAC grant; a custom policy
    /// with a wildcard resource) and every URL carries that grant; S3 presigns each file.
    pub async fn hls_urls(
        &self,
        asset: Uuid,
        rels: &[&str],
        valid_for: Duration,
    ) -> Result<(Vec<String>, DateTime<Utc>), StorageError> {
        let prefix = format!("{}hls/", StorageKey::asset_prefix(asset));
        let now = Utc::now().timestamp();
        let expires = now - now.rem_euclid(60)
            + 60
            + i64::try_from(valid_for.as_secs()).unwrap_or(i64::MAX / 2);
        let expires_at = Utc
            .timestamp_opt(expires, 0)
            .single()
            .unwrap_or_else(Utc::now);
        let grant = match (&self.cdn, &self.backend) {
            (Some(cdn), _) => Some(cdn.sign_prefix(&prefix, expires)),
            (None, Backend::Local(l)) => Some(
                l.urls()?
                    .sign_prefix(&prefix, expires)
                    .ok_or_else(|| StorageError::Other("not an HLS prefix".into()))?,
            ),
            (None, Backend::S3(_)) => None,
        };
        match grant {
            Some((base, query)) => Ok((
                rels.iter().map(|r| format!("{base}{r}?{query}")).collect(),
                expires_at,
            )),
            None => {
                let keys: Vec<String> = rels.iter().map(|r| format!("{prefix}{r}")).collect();
                let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
                let (urls, expires_at) = self.signed_urls(&keys, valid_for).await?;
                Ok((
                    urls.iter().map(|u| u.as_str().to_owned()).collect(),
                    expires_at,
                ))
            }
        }
    }

    /// Delivery URLs for `keys` (in order), as [`Storage::signed_url`] makes them; each is
    /// signed at most once a minute.
    pub async fn signed_urls(
        &self,
        keys: &[&str],
        valid_for: Duration,
    ) -> Result<(Vec<SignedUrl>, DateTime<Utc>), StorageError> {
        let now = Utc::now().timestamp();
        let minute = now - now.rem_euclid(60);
        let window = 60 + i64::try_from(valid_for.as_secs()).unwrap_or(i64::MAX / 2);
        let expires = minute + window;
        let expires_at = Utc
            .timestamp_opt(expires, 0)
            .single()
            .unwrap_or_else(Utc::now);
        let mut out: Vec<Option<SignedUrl>> = {
            let mut cache = self
                .urls
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if cache.minute != minute || cache.map.is_empty() {
                cache.minute = minute;
                cache.window = window;
                cache.map.clear();
            }
            if cache.window == window {
                keys.iter().map(|k| cache.map.get(*k).cloned()).collect()
            } else {
                vec![None; keys.len()]
            }
        };
        let missing: Vec<&str> = keys
            .iter()
            .zip(&out)
            .filter(|(_, u)| u.is_none())
            .map(|(k, _)| *k)
            .collect();
        if missing.is_empty() {
            return Ok((out.into_iter().flatten().collect(), expires_at));
        }
        let signed: Vec<String> = match (&self.cdn, &self.backend) {
            (Some(cdn), _) => missing.iter().map(|k| cdn.sign(k, expires)).collect(),
            (None, Backend::Local(l)) => {
                let urls = l.urls()?;
                missing
                    .iter()
                    .map(|k| urls.sign_get(&StorageKey::trusted((*k).to_owned()), expires))
                    .collect()
            }
            (None, Backend::S3(s)) => {
                let start = Utc
                    .timestamp_opt(minute, 0)
                    .single()
                    .unwrap_or_else(Utc::now);
                let window = Duration::from_secs(u64::try_from(window).unwrap_or(60));
                s.presign_gets(&missing, start, window).await?
            }
        };
        let signed: Vec<SignedUrl> = signed.into_iter().map(SignedUrl::new).collect();
        {
            let mut cache = self
                .urls
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if cache.minute == minute
                && cache.window == window
                && cache.map.len() + signed.len() <= MINUTE_URLS_MAX
            {
                for (k, u) in missing.iter().zip(&signed) {
                    cache.map.insert((*k).to_owned(), u.clone());
                }
            }
        }
        let mut signed = signed.into_iter();
        for slot in &mut out {
            if slot.is_none() {
                *slot = signed.next();
            }
        }
        Ok((out.into_iter().flatten().collect(), expires_at))
    }

    /// Size and type of an object, if it exists.
    pub async fn head(&self, key: &StorageKey) -> Result<Option<ObjectMeta>, StorageError> {
        match &self.backend {
            Backend::Local(l) => l.head(key).await,
            Backend::S3(s) => s.head(key).await,
        }
    }

    /// Writes a local file as an object (the worker's output; multipart on S3 when large).
    pub async fn put_file(
        &self,
        key: &StorageKey,
        source: &Path,
        content_type: &str,
    ) -> Result<(), StorageError> {
        match &self.backend {
            Backend::Local(l) => l.put_file(key, source, content_type).await,
            Backend::S3(s) => s.put_file(key, source, content_type).await,
        }
    }

    /// Copies an object into a local file (the worker's input).
    pub async fn get_to_file(
        &self,
        key: &StorageKey,
        dest: &Path,
    ) -> Result<ObjectMeta, StorageError> {
        match &self.backend {
            Backend::Local(l) => l.get_to_file(key, dest).await,
            Backend::S3(s) => s.get_to_file(key, dest).await,
        }
    }

    /// Deletes an object (idempotent).
    pub async fn delete(&self, key: &StorageKey) -> Result<(), StorageError> {
        match &self.backend {
            Backend::Local(l) => l.delete(key).await,
            Backend::S3(s) => s.delete(key).await,
        }
    }

    /// A short-lived URL for a private object (verification documents): signed by the
    /// storage itself, never by the CDN, and never cached or shared between requests.
    pub async fn private_url(
        &self,
        key: &StorageKey,
        valid_for: Duration,
    ) -> Result<(String, DateTime<Utc>), StorageError> {
        let now = Utc::now();
        let expires_at = now + chrono::Duration::from_std(valid_for).unwrap_or_default();
        let url = match &self.backend {
            Backend::Local(l) => l.urls()?.sign_get(key, expires_at.timestamp()),
            Backend::S3(s) => s
                .presign_gets(&[key.as_str()], now, valid_for)
                .await?
                .pop()
                .ok_or_else(|| StorageError::Other("nothing signed".into()))?,
        };
        Ok((url, expires_at))
    }

    /// Deletes every object under `prefix` (idempotent).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<(), StorageError> {
        match &self.backend {
            Backend::Local(l) => l.delete_prefix(prefix).await?,
            Backend::S3(s) => s.delete_prefix(prefix).await?,
        };
        Ok(())
    }

    /// Deletes every object of an asset: its upload and its processed files.
    pub async fn delete_asset(&self, asset: Uuid) -> Result<(), StorageError> {
        self.delete(&StorageKey::upload(asset)).await?;
        let prefix = StorageKey::asset_prefix(asset);
        match &self.backend {
            Backend::Local(l) => l.delete_prefix(&prefix).await?,
            Backend::S3(s) => s.delete_prefix(&prefix).await?,
        };
        Ok(())
    }

    /// Every key in storage (tests and audits).
    pub async fn list(&self) -> Result<Vec<String>, StorageError> {
        match &self.backend {
            Backend::Local(l) => l.list().await,
            Backend::S3(s) => s.list_prefix("").await,
        }
    }
}

/// Routes of the local backend (the app serves and accepts objects itself). They sit
/// outside the request body limit and timeout: uploads are large and slow by nature, and
/// stream to disk.
pub fn local_routes() -> axum::Router<crate::state::AppState> {
    use axum::routing::{get, put};
    axum::Router::new()
        .route("/storage/upload/{*key}", put(local::put_object))
        .route("/storage/{*key}", get(local::get_object))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_only_from_ids_and_fixed_names() {
        let id = Uuid::nil();
        assert_eq!(
            StorageKey::upload(id).as_str(),
            "uploads/00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(
            StorageKey::variant(id, "grid.webp").map(|k| k.0),
            Some("media/00000000-0000-0000-0000-000000000000/grid.webp".to_owned())
        );
        for bad in ["", "../x", "a/b", ".hidden", "x y"] {
            assert!(StorageKey::variant(id, bad).is_none(), "{bad}");
        }
        assert_eq!(
            StorageKey::hls(id, "hls/720p/s3.m4s").map(|k| k.0),
            Some("media/00000000-0000-0000-0000-000000000000/hls/720p/s3.m4s".to_owned())
        );
        assert!(StorageKey::hls(id, "hls/master.m3u8").is_some());
        for bad in [
            "hls/",
            "hls/../x",
            "hls/a/../../b",
            "hls/a/b/c",
            "hls//x",
            "video.mp4",
            "other/x",
        ] {
            assert!(StorageKey::hls(id, bad).is_none(), "{bad}");
        }
    }
}
