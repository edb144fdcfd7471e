//! The ported drivers. Each imports only [`crate::ddk`], keeps the book's
//! routine names, and cites the book lines its code follows. What two
//! ports share in the book is written once (`forward`).

pub mod debugprint;
mod forward;
pub mod wdm1;
pub mod wdm2;
