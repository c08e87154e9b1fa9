//! A report as one self-contained HTML page: no scripts, fonts, styles or images from
//! anywhere else, so it opens offline and goes out as one attachment, and a print style that
//! keeps charts and table rows whole on PDF pages. Charts are the same SVG as `--output x.svg`,
//! each with a text alternative and its table beside it. Every cell keeps the lake's exact
//! figure in `data-value` (and, for money, in its tooltip); money is rounded only for display.

use std::fmt::Write as _;

use super::{Report, Section, Table};
use crate::model::decimal;
use crate::output::chart::xml_escape as escape;

/// The page's style: plain, readable on screen and on paper.
const STYLE: &str = r#"
:root { color-scheme: light; --ink: #222; --muted: #666; --rule: #ddd; --ok: #1a7f37; --bad: #b42318; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); margin: 0 auto; max-width: 1100px; padding: 24px; line-height: 1.4; }
h1 { font-size: 1.8rem; margin: 0 0 4px; }
h2 { font-size: 1.3rem; margin: 0 0 6px; border-bottom: 2px solid var(--rule); padding-bottom: 4px; }
.period { font-size: 1.2rem; margin: 0 0 12px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 12px; color: var(--muted); }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; }
.status { font-weight: 600; padding: 8px 12px; border-radius: 4px; }
.status.ok { background: #e6f4ea; color: var(--ok); }
.status.bad { background: #fdecea; color: var(--bad); }
nav ol { columns: 2; margin: 8px 0 0; }
section { margin: 32px 0 0; }
.note, .description { margin: 4px 0; }
.description { color: var(--muted); font-size: 0.9rem; }
.missing { font-style: italic; color: var(--muted); }
figure { margin: 12px 0; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.85rem; color: var(--muted); margin-top: 4px; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 8px 0; width: 100%; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid var(--rule); padding: 3px 6px; text-align: left; vertical-align: top; overflow-wrap: break-word; }
th { font-size: 0.8rem; }
th { background: #f6f6f6; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.mismatch { color: var(--bad); font-weight: 600; }
.more, .command { font-size: 0.8rem; color: var(--muted); margin: 2px 0; }
code { font-family: ui-monospace, Menlo, Consolas, monospace; }
footer { margin-top: 40px; font-size: 0.8rem; color: var(--muted); }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { padding: 0; max-width: none; font-size: 9.5pt; }
  table { font-size: 7.5pt; }
  figure svg { max-height: 120mm; width: auto; }
  nav ol { columns: 2; }
  section { break-before: auto; }
  h2 { break-after: avoid; }
  figure, tr { break-inside: avoid; }
  thead { display: table-header-group; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// The report as an HTML page.
pub fn render(report: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let period = period_name(&report.period);
    let currency = match report.currencies.as_slice() {
        [one] => Some(one.as_str()),
        _ => None,
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"{}\">\n<title>{} · {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>\n<p class=\"period\">{period} <span class=\"description\">(billing period <span data-period>{}</span>)</span></p>\n<dl class=\"meta\">\n<dt>Lake</dt><dd><code>{}</code></dd>\n<dt>Currency</dt><dd data-currency>{}</dd>\n<dt>Written</dt><dd>{} by {}</dd>\n</dl>\n",
        escape(&report.generator),
        escape(&report.title),
        escape(&period),
        escape(&report.title),
        escape(&report.period),
        escape(&report.lake),
        escape(&if report.currencies.is_empty() {
            "none (no charges in the period)".to_string()
        } else {
            report.currencies.join(", ")
        }),
        report.generated.format("%Y-%m-%d %H:%M UTC"),
        escape(&report.generator),
    );
    let problems: Vec<&String> = report.sections.iter().flat_map(|s| &s.problems).collect();
    if report.sections.iter().any(|s| s.query == "verify") {
        if problems.is_empty() {
            out.push_str("<p class=\"status ok\" data-reconciles=\"true\">Every month and file reconciles exactly.</p>\n");
        } else {
            let _ = writeln!(
                out,
                "<p class=\"status bad\" data-reconciles=\"false\">{} things do not reconcile: {}.</p>",
                problems.len(),
                escape(
                    &problems
                        .iter()
                        .map(|p| p.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            );
        }
    }
    out.push_str("<nav aria-label=\"Sections\"><ol>\n");
    for (i, s) in report.sections.iter().enumerate() {
        let _ = writeln!(
            out,
            "<li><a href=\"#section-{}\">{}</a></li>",
            i + 1,
            escape(&s.title)
        );
    }
    out.push_str("</ol></nav>\n</header>\n<main>\n");
    for (i, s) in report.sections.iter().enumerate() {
        section(&mut out, i + 1, s, currency);
    }
    let _ = write!(
        out,
        "</main>\n<footer>Written by {} from the lake's exact figures: money is rounded here for display only; each cell's tooltip holds the figure as the lake keeps it, and each section names the command that gives its whole result.</footer>\n</body>\n</html>\n",
        escape(&report.generator)
    );
    out
}

fn section(out: &mut String, number: usize, s: &Section, currency: Option<&str>) {
    let _ = write!(
        out,
        "<section id=\"section-{number}\" data-query=\"{}\" data-places=\"{}\">\n<h2>{}</h2>\n",
        escape(&s.query),
        s.places,
        escape(&s.title)
    );
    if let Some(note) = &s.note {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", inline(note));
    }
    let _ = writeln!(
        out,
        "<p class=\"description\">{}</p>",
        inline(&s.description)
    );
    if let Some(missing) = &s.missing {
        let _ = writeln!(
            out,
            "<p class=\"missing\" data-missing>Not in this lake: {}.</p>",
            inline(missing)
        );
    }
    if let Some(chart) = &s.chart {
        let svg = chart.scene().to_svg();
        let _ = write!(
            out,
            "<figure role=\"group\" aria-describedby=\"chart-{number}\">\n{svg}<figcaption id=\"chart-{number}\">{}. The table below holds the figures.</figcaption>\n</figure>\n",
            escape(&chart.describe())
        );
    }
    for (k, t) in s.tables.iter().enumerate() {
        table(out, number, k, t, s.places, currency);
    }
    if s.missing.is_none() && s.tables.iter().all(|t| t.rows.is_empty()) {
        out.push_str("<p class=\"missing\" data-empty>No rows for this period.</p>\n");
    }
    let _ = write!(
        out,
        "<p class=\"command\">The whole result: <code>{}</code></p>\n</section>\n",
        escape(&s.command)
    );
}

fn table(
    out: &mut String,
    number: usize,
    index: usize,
    t: &Table,
    places: u32,
    currency: Option<&str>,
) {
    // A row's own currency, where the result names it.
    let row_currency = t
        .columns
        .iter()
        .position(|c| c.name == "billing_currency" || c.name == "currency");
    let _ = write!(
        out,
        "<table data-table=\"{index}\" aria-describedby=\"section-{number}\">\n<thead><tr>"
    );
    for c in &t.columns {
        let unit = match (c.money, row_currency, currency) {
            (true, None, Some(cur)) => format!(" ({cur})"),
            _ => String::new(),
        };
        let _ = write!(
            out,
            "<th scope=\"col\" data-column=\"{}\">{}{}</th>",
            escape(&c.name),
            escape(&c.name),
            escape(&unit)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for (c, value) in t.columns.iter().zip(row) {
            let Some(value) = value else {
                out.push_str("<td data-null></td>");
                continue;
            };
            let suffix = match row_currency.and_then(|i| row[i].as_deref()) {
                Some(cur) if c.money => format!(" {cur}"),
                _ => String::new(),
            };
            let class = if value.starts_with("MISMATCH") {
                " class=\"mismatch\""
            } else if c.numeric || c.money {
                " class=\"num\""
            } else {
                ""
            };
            let shown = if c.money {
                money_text(value, places).unwrap_or_else(|| value.clone())
            } else {
                value.clone()
            };
            let title = if c.money {
                format!(" title=\"{}{}\"", escape(value), escape(&suffix))
            } else {
                String::new()
            };
            let _ = write!(
                out,
                "<td{class} data-value=\"{}\"{title}>{}{}</td>",
                escape(value),
                escape(&shown),
                escape(&suffix)
            );
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    if t.hidden > 0 {
        let _ = writeln!(
            out,
            "<p class=\"more\" data-hidden=\"{}\">{} more rows are not shown here.</p>",
            t.hidden, t.hidden
        );
    }
}

/// An exact decimal rounded half to even (the lake's rule) to `places`, with thousands
/// separators: `1234567.125` at 2 places is `1,234,567.12`. `None` if it is not a number.
pub fn money_text(exact: &str, places: u32) -> Option<String> {
    let v = decimal::parse(exact, places, 38).ok()?;
    let digits = v.unsigned_abs().to_string();
    let places = places as usize;
    let digits = format!("{digits:0>width$}", width = places + 1);
    let (int, frac) = digits.split_at(digits.len() - places);
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if v < 0 { "-" } else { "" };
    Some(if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{frac}")
    })
}

/// Text with `code` spans, as query descriptions write them.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in escape(text).split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// `202611` as `November 2026`.
fn period_name(period: &str) -> String {
    crate::model::PeriodId::parse(period)
        .map(|p| p.first_day().format("%B %Y").to_string())
        .unwrap_or_else(|| period.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_rounded_half_to_even_for_display_only() {
        assert_eq!(money_text("1234567.125", 2).unwrap(), "1,234,567.12");
        assert_eq!(money_text("1234567.135", 2).unwrap(), "1,234,567.14");
        assert_eq!(money_text("-0.004", 2).unwrap(), "0.00");
        assert_eq!(money_text("-1000.5", 0).unwrap(), "-1,000");
        assert_eq!(money_text("0.00012345", 4).unwrap(), "0.0001");
        assert_eq!(money_text("999", 2).unwrap(), "999.00");
        assert!(money_text("n/a", 2).is_none());
    }

    #[test]
    fn the_page_escapes_what_the_lake_holds() {
        let report = Report {
            title: "Cost <report>".into(),
            period: "202611".into(),
            currencies: vec!["EUR".into()],
            lake: "./lake".into(),
            generated: chrono::Utc::now(),
            generator: "costlake test".into(),
            sections: vec![Section {
                title: "Tags & <script>".into(),
                query: "q".into(),
                description: "d".into(),
                note: None,
                command: "costlake query q".into(),
                tables: vec![Table {
                    columns: vec![
                        super::super::Column {
                            name: "tag".into(),
                            numeric: false,
                            money: false,
                        },
                        super::super::Column {
                            name: "cost".into(),
                            numeric: true,
                            money: true,
                        },
                    ],
                    rows: vec![vec![Some("<img src=x>".into()), Some("1234.5678".into())]],
                    hidden: 3,
                }],
                chart: None,
                missing: None,
                problems: Vec::new(),
                places: 2,
            }],
        };
        let page = render(&report);
        assert!(
            !page.contains("<img") && !page.contains("<script>"),
            "{page}"
        );
        assert!(page.contains("Tags &amp; &lt;script&gt;"));
        assert_eq!(
            inline("run `costlake verify` <now>"),
            "run <code>costlake verify</code> &lt;now&gt;"
        );
        assert!(page.contains("<th scope=\"col\" data-column=\"cost\">cost (EUR)</th>"));
        assert!(page.contains("data-value=\"1234.5678\" title=\"1234.5678\">1,234.57</td>"));
        assert!(page.contains("data-hidden=\"3\""));
        assert!(page.contains("<title>Cost &lt;report&gt; · November 2026</title>"));
        for external in ["<script", "<link", "src=\"http", "url(", "@import"] {
            assert!(!page.contains(external), "{external} in {page}");
        }
    }
}
