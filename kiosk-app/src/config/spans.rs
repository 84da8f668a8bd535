//! Where each key of a config file is written, from the TOML parser's own spans, so an error
//! found after parsing (a value out of range, a device id used twice) points at the line a
//! technician must edit — the right `after_s` even when several tables have one.

use std::ops::Range;

use toml_edit::{ImDocument, Item, Table, Value};

/// One step of a path into the document: a key, or an index into an array (of tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The parsed document, kept only for its spans.
pub struct Spans {
    doc: Option<ImDocument<String>>,
}

#[derive(Clone, Copy)]
enum Node<'d> {
    Table(&'d Table),
    Item(&'d Item),
    Value(&'d Value),
}

impl<'d> Node<'d> {
    fn key(self, k: &str) -> Option<(Node<'d>, Option<Range<usize>>)> {
        let (key, item) = match self {
            Node::Table(t) => t.get_key_value(k)?,
            Node::Item(Item::Table(t)) => t.get_key_value(k)?,
            Node::Item(Item::Value(v)) | Node::Value(v) => v.as_inline_table()?.get_key_value(k)?,
            Node::Item(_) => return None,
        };
        Some((Node::Item(item), key.span().or_else(|| item.span())))
    }

    fn index(self, i: usize) -> Option<(Node<'d>, Option<Range<usize>>)> {
        match self {
            Node::Item(Item::ArrayOfTables(a)) => {
                let t = a.get(i)?;
                Some((Node::Table(t), t.span()))
            }
            Node::Item(Item::Value(v)) | Node::Value(v) => {
                let v = v.as_array()?.get(i)?;
                Some((Node::Value(v), v.span()))
            }
            _ => None,
        }
    }
}

impl Spans {
    /// Parses `text`; a text that does not parse gives no spans (the deserialiser reports the
    /// syntax error with its own span first).
    pub fn parse(text: &str) -> Spans {
        Spans {
            doc: ImDocument::parse(text.to_string()).ok(),
        }
    }

    /// The byte range of the key at `path` (the key itself, so the line is the one where it is
    /// written), or of the array element the path ends on. None when the path is not written
    /// in the file (a default was used).
    pub fn key(&self, path: &[Step<'_>]) -> Option<Range<usize>> {
        let doc = self.doc.as_ref()?;
        let mut node = Node::Table(doc.as_table());
        let mut span = None;
        for step in path {
            let (next, s) = match step {
                Step::Key(k) => node.key(k)?,
                Step::Index(i) => node.index(*i)?,
            };
            node = next;
            span = s.or(span);
        }
        span
    }

    /// The span of `table.key`, or of `table` itself when the key is not written; for errors
    /// about a whole section.
    pub fn key_or_table(&self, table: &str, key: &str) -> Option<Range<usize>> {
        self.key(&[Step::Key(table), Step::Key(key)])
            .or_else(|| self.key(&[Step::Key(table)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of(text: &str, span: Option<Range<usize>>) -> usize {
        let start = span.expect("a span").start;
        text[..start].matches('\n').count() + 1
    }

    #[test]
    fn keys_are_found_in_their_own_table() {
        let text = "# [idle] after_s = 1 in a comment\n[idle]\nafter_s = 60\n\n[idle.screens.home]\nafter_s = 0\n\n[[devices]]\nid = \"a\"\noptions = { speed = 1 }\n[[devices]]\nid = \"b\"\noptions = { speed = 2 }\n";
        let s = Spans::parse(text);
        assert_eq!(
            line_of(text, s.key(&[Step::Key("idle"), Step::Key("after_s")])),
            3
        );
        assert_eq!(
            line_of(
                text,
                s.key(&[
                    Step::Key("idle"),
                    Step::Key("screens"),
                    Step::Key("home"),
                    Step::Key("after_s")
                ])
            ),
            6
        );
        assert_eq!(
            line_of(
                text,
                s.key(&[Step::Key("devices"), Step::Index(1), Step::Key("id")])
            ),
            12
        );
        assert_eq!(
            line_of(
                text,
                s.key(&[
                    Step::Key("devices"),
                    Step::Index(1),
                    Step::Key("options"),
                    Step::Key("speed")
                ])
            ),
            13
        );
        assert_eq!(s.key(&[Step::Key("idle"), Step::Key("countdown_s")]), None);
        assert!(Spans::parse("not toml [").key(&[Step::Key("x")]).is_none());
    }
}
