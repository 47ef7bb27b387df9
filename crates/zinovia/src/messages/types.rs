//! Ids, enums and the wire shapes of messaging.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::database::text_enum;
use crate::posts::{MediaView, Price};

crate::id::id_type! {
    /// A conversation's id.
    pub struct ConversationId;
}

crate::id::id_type! {
    /// A message's id.
    pub struct MessageId;
}

crate::id::id_type! {
    /// A mass message's id.
    pub struct MassMessageId;
}

text_enum! {
    /// Who may write to a creator.
    pub enum MessagesFrom {
        /// Fans whose subscription grants access now (the default).
        Subscribers = "subscribers",
        /// Anyone signed in.
        Anyone = "anyone",
    }
}

text_enum! {
    /// Who a mass message goes to.
    pub enum Segment {
        /// Fans whose subscription grants access now.
        Active = "active",
        /// Fans who subscribed before and whose subscription no longer grants access
        /// (win-back).
        Expired = "expired",
        /// Fans who spent more than `min_spend_minor` with the creator (net of refunds).
        Spenders = "spenders",
        /// Fans who bought the post `post_id`.
        Buyers = "buyers",
    }
}

text_enum! {
    /// Where a mass message stands.
    pub enum MassStatus {
        /// Waiting for its time.
        Scheduled = "scheduled",
        /// Being delivered.
        Sending = "sending",
        /// Delivered to the whole segment.
        Sent = "sent",
        /// Taken back by the creator.
        Unsent = "unsent",
    }
}

/// Why a message is reported (the categories of every report).
pub use crate::moderation::ReportCategory as ReportReason;

/// The other side of a conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Party {
    /// Their account id.
    pub id: Uuid,
    /// Public name.
    pub display_name: String,
    /// The creator's handle (when the other side is the creator).
    pub handle: Option<String>,
    /// Small avatar (signed, short-lived), when they have one.
    pub avatar_url: Option<String>,
}

/// A conversation in an inbox.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationView {
    /// Id.
    pub id: ConversationId,
    /// Whether you are its creator.
    pub as_creator: bool,
    /// The other side.
    pub with: Party,
    /// The last message you may see: its text, or what it carries.
    pub last_message: Option<String>,
    /// When it was sent.
    pub last_message_at: Option<DateTime<Utc>>,
    /// Messages to you not yet read.
    pub unread: i32,
    /// Up to when the other side has read.
    pub other_read_at: Option<DateTime<Utc>>,
    /// Whether the creator blocked the fan.
    pub blocked: bool,
}

/// A page of an inbox, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Inbox {
    /// The conversations.
    pub conversations: Vec<ConversationView>,
    /// Pass as `cursor` for the next page; absent at the end.
    pub next_cursor: Option<String>,
    /// Unread messages across all your conversations.
    pub unread_total: i64,
}

/// A message as one viewer may see it. A locked paid message carries its price and, per
/// media item, only kind, size and placeholder.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageView {
    /// Id (time-ordered).
    pub id: MessageId,
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Whether you sent it.
    pub mine: bool,
    /// Who sent it.
    pub sender_id: Uuid,
    /// Plain text.
    pub text: String,
    /// The text as safe HTML: escaped, links clickable.
    pub text_html: String,
    /// Unlock price (paid messages).
    pub price: Option<Price>,
    /// A tip it came with.
    pub tip: Option<Price>,
    /// Whether its media are withheld from you (no ids, no URLs).
    pub locked: bool,
    /// Bought by the fan (shown to both sides).
    pub unlocked_by_purchase: bool,
    /// How many photos.
    pub photos: usize,
    /// How many videos.
    pub videos: usize,
    /// The media, in order.
    pub media: Vec<MediaView>,
    /// Sent to many fans at once (the creator's mass message).
    pub mass_message_id: Option<MassMessageId>,
    /// The creator's welcome message.
    pub welcome: bool,
    /// The creator took it back (only the creator, and a buyer, still see it).
    pub unsent: bool,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// Whether the recipient has read it (your messages).
    pub read: bool,
}

/// A page of a thread, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Thread {
    /// The conversation.
    pub conversation: ConversationView,
    /// The messages, newest first.
    pub messages: Vec<MessageView>,
    /// Pass as `before` for older messages; absent at the start.
    pub next_cursor: Option<MessageId>,
}

/// What a mass message did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MassMessageView {
    /// Id.
    pub id: MassMessageId,
    /// Who it went to.
    pub segment: Segment,
    /// Spend threshold (`spenders`).
    pub min_spend_minor: Option<i64>,
    /// The post (`buyers`).
    pub post_id: Option<Uuid>,
    /// Text.
    pub text: String,
    /// Media items.
    pub media_count: usize,
    /// Unlock price.
    pub price: Option<Price>,
    /// When it goes (went) out.
    pub send_at: DateTime<Utc>,
    /// Where it stands.
    pub status: MassStatus,
    /// Conversations it reached.
    pub sent: i32,
    /// Read by.
    pub read: i64,
    /// Bought by.
    pub unlocked: i64,
    /// Paid for it (gross, net of refunds not counted).
    pub revenue_minor: i64,
    /// Made at.
    pub created_at: DateTime<Utc>,
}

/// One item of the creator's vault.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VaultItem {
    /// The media id.
    pub id: Uuid,
    /// Image or video.
    pub kind: crate::media::Kind,
    /// The small preview (signed, short-lived).
    pub thumb_url: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Posts showing it.
    pub posts: Vec<Uuid>,
    /// Messages that sent it (how many).
    pub messages: i64,
    /// With `fan`: whether it was sent to that fan already.
    pub sent_to_fan: bool,
    /// With `fan`: whether that fan bought it already (in a message or a post).
    pub bought_by_fan: bool,
    /// Uploaded at.
    pub created_at: DateTime<Utc>,
}
