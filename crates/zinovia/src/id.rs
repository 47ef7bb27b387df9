//! Ids that say what they identify: `id_type!` declares a UUID newtype (shown, stored and
//! sent as the UUID; an OpenAPI `uuid`), and `Id` lets the one path extractor
//! (`http::extract::PathId`) build any of them, one or two per path.

use uuid::Uuid;

/// A UUID newtype.
pub trait Id: Sized + Send {
    /// The id of this UUID.
    fn from_uuid(uuid: Uuid) -> Self;
}

/// Declares a UUID newtype.
macro_rules! id_type {
    ($(#[$meta:meta])* pub struct $name:ident;) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize,
            serde::Deserialize, sqlx::Type, utoipa::ToSchema,
        )]
        #[sqlx(transparent)]
        #[serde(transparent)]
        pub struct $name(pub uuid::Uuid);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl $crate::id::Id for $name {
            fn from_uuid(uuid: uuid::Uuid) -> Self {
                $name(uuid)
            }
        }
    };
}

pub(crate) use id_type;
