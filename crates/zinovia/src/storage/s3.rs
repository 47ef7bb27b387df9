//! The S3 backend (`STORAGE=s3`): AWS with the default credential chain (the ECS task role
//! in production), or any S3-compatible server through `S3_ENDPOINT` with path-style
//! addressing. TLS through rustls with ring, like the rest of the binary.

use std::path::Path;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use secrecy::ExposeSecret;
use tokio::io::AsyncWriteExt;

use super::{ObjectMeta, PresignedUpload, StorageError, StorageKey};
use crate::config::MediaSettings;

/// Objects at or above this size are written in parts.
pub const MULTIPART_THRESHOLD: u64 = 16 * 1024 * 1024;
/// Size of each part (S3's minimum is 5 MiB).
const PART_SIZE: u64 = 8 * 1024 * 1024;

/// A bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    signer: std::sync::Arc<super::sigv4::GetSigner>,
}

/// Size and type from S3's headers (absent: 0 bytes, `application/octet-stream`).
fn object_meta(length: Option<i64>, content_type: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        size: length.and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
        content_type: content_type
            .unwrap_or("application/octet-stream")
            .to_owned(),
    }
}

fn s3_err(e: impl std::error::Error) -> StorageError {
    StorageError::S3(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
}

impl S3Store {
    /// A client for `S3_BUCKET` in `S3_REGION` (or at `S3_ENDPOINT`).
    pub async fn new(m: &MediaSettings) -> anyhow::Result<S3Store> {
        use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
        let bucket = m
            .s3_bucket
            .clone()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| anyhow::anyhow!("S3_BUCKET is required with STORAGE=s3"))?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .region(Region::new(m.s3_region.clone()));
        if let (Some(id), Some(secret)) = (&m.s3_access_key_id, &m.s3_secret_access_key) {
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                id.clone(),
                secret.expose_secret().to_owned(),
                None,
                None,
                "zinovia-settings",
            ));
        }
        let shared = loader.load().await;
        // Browsers cannot compute the CRC checksums newer SDKs add by default, so presigned
        // uploads sign only what is required (content type and exact length).
        let mut conf = aws_sdk_s3::config::Builder::from(&shared)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &m.s3_endpoint {
            conf = conf
                .endpoint_url(endpoint.as_str().trim_end_matches('/'))
                .force_path_style(true);
        }
        let client = Client::from_conf(conf.build());
        let signer = super::sigv4::GetSigner::new(
            &bucket,
            &m.s3_region,
            m.s3_endpoint.as_ref(),
            shared.credentials_provider(),
        );
        Ok(S3Store {
            client,
            bucket,
            signer: std::sync::Arc::new(signer),
        })
    }

    /// A presigned PUT whose signature covers the exact content type and length.
    pub async fn presign_put(
        &self,
        key: &StorageKey,
        content_type: &str,
        length: u64,
        valid_for: Duration,
    ) -> Result<PresignedUpload, StorageError> {
        let config = PresigningConfig::expires_in(valid_for).map_err(s3_err)?;
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .content_length(i64::try_from(length).map_err(|e| StorageError::Other(e.to_string()))?)
            .presigned(config)
            .await
            .map_err(s3_err)?;
        let headers = req
            .headers()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        Ok(PresignedUpload {
            method: "PUT".into(),
            url: req.uri().to_owned(),
            headers,
        })
    }

    /// Presigned GETs of `keys`, signed as of `start`, valid for `valid_for` from then (by
    /// the hand-written signer; byte-identical to [`S3Store::presign_get_with_sdk`]).
    pub async fn presign_gets(
        &self,
        keys: &[&str],
        start: chrono::DateTime<chrono::Utc>,
        valid_for: Duration,
    ) -> Result<Vec<String>, StorageError> {
        self.signer
            .sign_many(keys, start, valid_for.as_secs())
            .await
    }

    /// The same URL made by the SDK's presigner (kept to prove the two identical).
    pub async fn presign_get_with_sdk(
        &self,
        key: &StorageKey,
        start: SystemTime,
        valid_for: Duration,
    ) -> Result<String, StorageError> {
        let config = PresigningConfig::builder()
            .start_time(start)
            .expires_in(valid_for)
            .build()
            .map_err(s3_err)?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .presigned(config)
            .await
            .map_err(s3_err)?;
        Ok(req.uri().to_owned())
    }

    /// Size and type of an object, if it exists.
    pub async fn head(&self, key: &StorageKey) -> Result<Option<ObjectMeta>, StorageError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(out) => Ok(Some(object_meta(out.content_length(), out.content_type()))),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(s3_err(e)),
        }
    }

    /// Writes a local file, in parts when it is large.
    pub async fn put_file(
        &self,
        key: &StorageKey,
        source: &Path,
        content_type: &str,
    ) -> Result<(), StorageError> {
        let size = tokio::fs::metadata(source).await?.len();
        if size < MULTIPART_THRESHOLD {
            let body = ByteStream::from_path(source).await.map_err(s3_err)?;
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key.as_str())
                .content_type(content_type)
                .body(body)
                .send()
                .await
                .map_err(s3_err)?;
            return Ok(());
        }
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .send()
            .await
            .map_err(s3_err)?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| StorageError::S3("no upload id".into()))?
            .to_owned();
        let result = self.upload_parts(key, source, size, &upload_id).await;
        if result.is_err() {
            // Parts of an abandoned multipart upload cost storage until aborted.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(key.as_str())
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }

    async fn upload_parts(
        &self,
        key: &StorageKey,
        source: &Path,
        size: u64,
        upload_id: &str,
    ) -> Result<(), StorageError> {
        let mut parts = Vec::new();
        let mut offset = 0;
        let mut number = 1;
        while offset < size {
            let length = PART_SIZE.min(size - offset);
            let body = ByteStream::read_from()
                .path(source)
                .offset(offset)
                .length(aws_sdk_s3::primitives::Length::Exact(length))
                .build()
                .await
                .map_err(s3_err)?;
            let part = self
                .client
                .upload_part()
                .bucket(&self.bucket)
                .key(key.as_str())
                .upload_id(upload_id)
                .part_number(number)
                .body(body)
                .send()
                .await
                .map_err(s3_err)?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(part.e_tag().map(ToOwned::to_owned))
                    .build(),
            );
            offset += length;
            number += 1;
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key.as_str())
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(s3_err)?;
        Ok(())
    }

    /// Streams an object into a local file.
    pub async fn get_to_file(
        &self,
        key: &StorageKey,
        dest: &Path,
    ) -> Result<ObjectMeta, StorageError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Err(StorageError::NotFound);
            }
            Err(e) => return Err(s3_err(e)),
        };
        let meta = object_meta(out.content_length(), out.content_type());
        let mut file = tokio::fs::File::create(dest).await?;
        let mut body = out.body;
        while let Some(chunk) = body.try_next().await.map_err(s3_err)? {
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        Ok(meta)
    }

    /// Deletes an object; deleting what is not there is fine.
    pub async fn delete(&self, key: &StorageKey) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(s3_err)?;
        Ok(())
    }

    /// Deletes every object under a prefix.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        let keys = self.list_prefix(prefix).await?;
        for key in &keys {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .map_err(s3_err)?;
        }
        Ok(keys.len() as u64)
    }

    /// Keys under a prefix (every key with `""`).
    pub async fn list_prefix(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token)
                .send()
                .await
                .map_err(s3_err)?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(ToOwned::to_owned)),
            );
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(keys)
    }

    /// Creates the bucket if it does not exist (local S3-compatible servers and tests).
    pub async fn ensure_bucket(&self) -> Result<(), StorageError> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        self.client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(s3_err)?;
        Ok(())
    }
}
