//! Presenting results: the adapter × behaviour [`Matrix`], plain-text and Markdown tables,
//! and JSON strings. No dependencies: the output formats are small.

use std::fmt::Write as _;

use crate::CaseReport;

/// The results of a run: rows are behaviours, columns are flavors.
///
/// # Examples
///
/// ```
/// use admit_conformance::report::Matrix;
/// use admit_conformance::{CaseReport, Failure};
/// use std::time::Duration;
///
/// let mut matrix = Matrix::new(vec!["tokio-ct".into(), "smol-1".into()], vec!["fifo_order".into()]);
/// matrix.push(CaseReport {
///     flavor: "tokio-ct".into(),
///     case: "fifo_order".into(),
///     outcome: Ok(()),
///     elapsed: Duration::from_millis(3),
/// });
/// matrix.push(CaseReport {
///     flavor: "smol-1".into(),
///     case: "fifo_order".into(),
///     outcome: Err(Failure::new("out of order")),
///     elapsed: Duration::from_millis(4),
/// });
/// assert!(!matrix.all_passed());
/// let text = matrix.render(false);
/// assert!(text.contains("fifo_order"));
/// assert!(text.contains("✓") && text.contains("✗"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Matrix {
    /// Column names, in order.
    pub flavors: Vec<String>,
    /// Row names, in order.
    pub cases: Vec<String>,
    /// Every report received.
    pub reports: Vec<CaseReport>,
}

impl Matrix {
    /// An empty matrix with these columns and rows.
    ///
    /// # Examples
    ///
    /// See [`Matrix`].
    #[must_use]
    pub fn new(flavors: Vec<String>, cases: Vec<String>) -> Self {
        Self {
            flavors,
            cases,
            reports: Vec::new(),
        }
    }

    /// Adds a report (its flavor and case are added as a column or row if new).
    ///
    /// # Examples
    ///
    /// See [`Matrix`].
    pub fn push(&mut self, report: CaseReport) {
        if !self.flavors.contains(&report.flavor) {
            self.flavors.push(report.flavor.clone());
        }
        if !self.cases.contains(&report.case) {
            self.cases.push(report.case.clone());
        }
        self.reports.push(report);
    }

    /// The report of `case` on `flavor`, if one came in.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_conformance::report::Matrix;
    ///
    /// let matrix = Matrix::new(vec!["tokio-ct".into()], vec!["soak".into()]);
    /// assert!(matrix.get("tokio-ct", "soak").is_none());
    /// ```
    #[must_use]
    pub fn get(&self, flavor: &str, case: &str) -> Option<&CaseReport> {
        self.reports
            .iter()
            .find(|report| report.flavor == flavor && report.case == case)
    }

    /// Every cell that did not pass: failed reports, and `(flavor, case)` pairs without one
    /// (a crashed run), as messages.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_conformance::report::Matrix;
    ///
    /// let matrix = Matrix::new(vec!["smol-2".into()], vec!["soak".into()]);
    /// assert_eq!(matrix.failures(), ["smol-2/soak: no result (the run ended before it)"]);
    /// ```
    #[must_use]
    pub fn failures(&self) -> Vec<String> {
        let mut failures = Vec::new();
        for flavor in &self.flavors {
            for case in &self.cases {
                match self.get(flavor, case) {
                    Some(report) if report.passed() => {}
                    Some(report) => failures.push(report.to_string()),
                    None => failures.push(format!(
                        "{flavor}/{case}: no result (the run ended before it)"
                    )),
                }
            }
        }
        failures
    }

    /// Whether every cell passed.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_conformance::report::Matrix;
    ///
    /// assert!(Matrix::default().all_passed());
    /// ```
    #[must_use]
    pub fn all_passed(&self) -> bool {
        self.failures().is_empty()
    }

    /// The table: one row per behaviour, one column per flavor, `✓`, `✗` or `?` (no result),
    /// as aligned text or as Markdown.
    ///
    /// # Examples
    ///
    /// See [`Matrix`].
    #[must_use]
    pub fn render(&self, markdown: bool) -> String {
        let mut header = vec![String::from("behaviour")];
        header.extend(self.flavors.iter().cloned());
        let rows: Vec<Vec<String>> = self
            .cases
            .iter()
            .map(|case| {
                let mut row = vec![case.clone()];
                row.extend(self.flavors.iter().map(|flavor| {
                    match self.get(flavor, case) {
                        Some(report) if report.passed() => "✓",
                        Some(_) => "✗",
                        None => "?",
                    }
                    .to_owned()
                }));
                row
            })
            .collect();
        table(&header, &rows, markdown)
    }

    /// The reports as a JSON array of `{"flavor", "case", "passed", "millis", "failure"}`.
    ///
    /// # Examples
    ///
    /// ```
    /// use admit_conformance::report::Matrix;
    ///
    /// assert_eq!(Matrix::default().to_json(), "[]");
    /// ```
    #[must_use]
    pub fn to_json(&self) -> String {
        let items: Vec<String> = self
            .reports
            .iter()
            .map(|report| {
                let failure = match &report.outcome {
                    Ok(()) => String::from("null"),
                    Err(failure) => json_string(failure.message()),
                };
                format!(
                    "{{\"flavor\": {}, \"case\": {}, \"passed\": {}, \"millis\": {}, \"failure\": {failure}}}",
                    json_string(&report.flavor),
                    json_string(&report.case),
                    report.passed(),
                    report.elapsed.as_millis()
                )
            })
            .collect();
        if items.is_empty() {
            String::from("[]")
        } else {
            format!("[\n  {}\n]", items.join(",\n  "))
        }
    }
}

/// A table with a header row, as aligned plain text or as Markdown.
///
/// # Examples
///
/// ```
/// use admit_conformance::report::table;
///
/// let header = vec!["case".to_string(), "tokio".to_string()];
/// let rows = vec![vec!["fifo_order".to_string(), "✓".to_string()]];
/// assert_eq!(
///     table(&header, &rows, true),
///     "| case | tokio |\n|---|:---:|\n| fifo_order | ✓ |\n"
/// );
/// assert_eq!(
///     table(&header, &rows, false),
///     "case        tokio\nfifo_order  ✓\n"
/// );
/// ```
#[must_use]
pub fn table(header: &[String], rows: &[Vec<String>], markdown: bool) -> String {
    let mut out = String::new();
    if markdown {
        let _ = writeln!(out, "| {} |", header.join(" | "));
        let mut rule = vec!["---"];
        rule.extend(std::iter::repeat_n(":---:", header.len().saturating_sub(1)));
        let _ = writeln!(out, "|{}|", rule.join("|"));
        for row in rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        return out;
    }
    let width = |column: usize| {
        std::iter::once(header)
            .chain(rows.iter().map(Vec::as_slice))
            .filter_map(|row| row.get(column))
            .map(|cell| cell.chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if column + 1 < row.len() {
                let pad = widths[column] - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `text` as a JSON string literal, quotes included.
///
/// # Examples
///
/// ```
/// use admit_conformance::report::json_string;
///
/// assert_eq!(json_string("a \"b\"\n"), r#""a \"b\"\n""#);
/// ```
#[must_use]
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
