//! Verification's states and documents.

crate::database::text_enum! {
    /// Where a verification attempt stands.
    pub enum VerificationStatus {
        /// Details or documents still missing.
        Started = "started",
        /// The worker scans and probes the documents.
        Checking = "checking",
        /// Waiting for a reviewer.
        Submitted = "submitted",
        /// The reviewer asked for more (see `problem`).
        MoreNeeded = "more_needed",
        /// Verified.
        Approved = "approved",
        /// Refused (see `problem`).
        Rejected = "rejected",
    }
}

crate::database::text_enum! {
    /// A document of an attempt.
    pub enum Document {
        /// A photo of a passport, ID card or driving licence.
        IdDocument = "id_document",
        /// A photo of the person holding that document.
        Selfie = "selfie",
    }
}

crate::id::id_type! {
    /// A verification attempt's id.
    pub struct VerificationId;
}

/// The photo types a document may be (checked again from its bytes).
pub const DOCUMENT_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp"];

/// The largest document (bytes).
pub const MAX_DOCUMENT_BYTES: u64 = 15 * 1024 * 1024;
