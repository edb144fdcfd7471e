//! The ported drivers. Each imports only [`crate::ddk`], keeps the book's
//! routine names, and cites the book lines its code follows.

pub mod debugprint;
pub mod wdm1;
pub mod wdm2;
