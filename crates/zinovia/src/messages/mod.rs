//! Messaging (ADR 0024, 0025): conversations between a fan and a creator, paid messages
//! whose media the one entitlement rule decides, tips in chat, mass messages delivered by
//! jobs, welcome messages, blocks and reports, the creator's vault, and live delivery over
//! Server-Sent Events across server processes.

mod api;
mod db;
mod jobs;
mod live;
pub mod moderate;
mod pages;
mod service;
mod types;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub use jobs::{DeliverMassMessage, EmailUnreadMessages, SendUnreadEmail};
pub use live::{Hub, Notice};
pub use service::{
    asset_visible, can_see_message, message_offer, tip_arrived, unlocked, unread_total, welcome,
};
pub use types::{
    ConversationId, MassMessageId, MassStatus, MessageId, MessageView, MessagesFrom, ReportReason,
    Segment,
};

/// The JSON API (`/api/v1/messages...`, `/api/v1/vault...`, `/api/v1/me/creator/messaging`).
pub fn api_router() -> OpenApiRouter<AppState> {
    api::router()
}

/// The web pages: the inbox, threads, mass messages and the vault.
pub fn pages_router() -> axum::Router<AppState> {
    pages::router()
}

/// Messaging's jobs.
pub fn jobs(registry: crate::jobs::Registry) -> crate::jobs::Registry {
    registry
        .with::<DeliverMassMessage>()
        .with::<EmailUnreadMessages>()
        .with::<SendUnreadEmail>()
        .every(
            std::time::Duration::from_secs(300),
            "email_unread_messages",
            &EmailUnreadMessages,
        )
}
