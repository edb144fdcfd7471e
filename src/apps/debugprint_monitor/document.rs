//! The Monitor's rows (the list view) and their `.dpm` file (the document,
//! book l.9885; spec 04 §3.4–3.5): one row per event, three columns, saved
//! as `driver TAB time TAB message` lines.

use std::fmt;

/// One row of the Monitor: the Driver, Time and Event columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub driver: String,
    /// As displayed: local `HH:MM:SS` (with `.mmm` if asked for).
    pub time: String,
    pub message: String,
}

/// The rows the Monitor shows, and whether they changed since the last
/// save or load.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Document {
    rows: Vec<Row>,
    modified: bool,
}

/// Text as the Monitor shows it: each byte one Latin-1 character (the
/// events carry ANSI bytes, spec 04 §1.3).
pub(crate) fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// The bytes of `text` in Latin-1; a character beyond it becomes `?`.
fn to_latin1(text: &str, out: &mut Vec<u8>) {
    out.extend(text.chars().map(|c| u8::try_from(c).unwrap_or(b'?')));
}

impl Document {
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// Whether rows arrived (or were loaded) since the last save.
    pub fn is_modified(&self) -> bool {
        self.modified
    }

    /// Appends a row; Monitor rows do not mark the document modified
    /// (book l.9913–9931).
    pub(crate) fn post(&mut self, row: Row, set_modified: bool) {
        self.rows.push(row);
        self.modified |= set_modified;
    }

    /// Edit → Delete events (book l.3986): no rows, not modified.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.modified = false;
    }

    /// The rows of these drivers only.
    pub fn filtered(&self, drivers: &[&str]) -> Vec<Row> {
        self.rows.iter().filter(|r| drivers.contains(&r.driver.as_str())).cloned().collect()
    }

    /// Saves as `.dpm`: `driver TAB time TAB message CR LF` per row, in
    /// Latin-1. Clears the modified flag.
    pub fn save_dpm(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for row in &self.rows {
            for (i, column) in [&row.driver, &row.time, &row.message].into_iter().enumerate() {
                if i > 0 {
                    out.push(b'\t');
                }
                to_latin1(column, &mut out);
            }
            out.extend_from_slice(b"\r\n");
        }
        self.modified = false;
        out
    }

    /// Loads a `.dpm` file, replacing every row: each line splits at its
    /// first two TABs (the message keeps any further ones); a line with
    /// fewer is skipped. LF and CR LF line ends are both read.
    pub fn load_dpm(bytes: &[u8]) -> Document {
        let rows = bytes
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            .filter_map(|line| {
                let mut columns = line.splitn(3, |&b| b == b'\t');
                let (driver, time, message) = (columns.next()?, columns.next()?, columns.next()?);
                Some(Row { driver: latin1(driver), time: latin1(time), message: latin1(message) })
            })
            .collect();
        Document { rows, modified: false }
    }
}

/// The rows as the book prints them (Listing 7.1): `Driver HH:MM:SS
/// message`, one per line.
impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for row in &self.rows {
            writeln!(f, "{} {} {}", row.driver, row.time, row.message)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(driver: &str, time: &str, message: &str) -> Row {
        Row { driver: driver.into(), time: time.into(), message: message.into() }
    }

    #[test]
    fn save_then_load_gives_the_same_rows_and_clears_modified() {
        let mut doc = Document::default();
        doc.post(row("Monitor", "12:03:04", "Starting to listen"), false);
        assert!(!doc.is_modified());
        doc.post(row("Wdm1", "12:00:42", "Tab\tinside é"), true);
        assert!(doc.is_modified());
        let bytes = doc.save_dpm();
        assert!(!doc.is_modified());
        assert_eq!(
            bytes,
            b"Monitor\t12:03:04\tStarting to listen\r\nWdm1\t12:00:42\tTab\tinside \xE9\r\n"
        );
        assert_eq!(Document::load_dpm(&bytes).rows(), doc.rows());
    }

    #[test]
    fn loading_accepts_lf_and_skips_lines_without_two_tabs() {
        let doc = Document::load_dpm(b"A\t1\tone\nbroken line\nB\t2\n\nC\t3\t\n");
        assert_eq!(doc.rows(), [row("A", "1", "one"), row("C", "3", "")]);
        assert!(!doc.is_modified());
    }

    #[test]
    fn clear_and_filter() {
        let mut doc = Document::default();
        doc.post(row("Wdm1", "1", "a"), true);
        doc.post(row("Wdm2", "2", "b"), true);
        assert_eq!(doc.filtered(&["Wdm2"]), [row("Wdm2", "2", "b")]);
        assert_eq!(doc.to_string(), "Wdm1 1 a\nWdm2 2 b\n");
        doc.clear();
        assert!(doc.rows().is_empty() && !doc.is_modified());
    }
}
