//! Every SQL statement of payments, by concern. Private to payments: other features go
//! through its service functions.

mod checkouts;
mod events;
mod held;
mod ledger;
mod payments;
mod payouts;
mod subscriptions;

pub use checkouts::*;
pub use events::*;
pub use held::*;
pub use ledger::*;
pub use payments::*;
pub use payouts::*;
pub use subscriptions::*;
