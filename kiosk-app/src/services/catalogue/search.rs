//! Keyword search over the service items, as citizens type on the home screen: Chinese words
//! (户籍), pinyin initials (hjzm for 户籍证明), whole pinyin (huji), and English names.
//! Characters with several readings match by any of them (证 zheng, 行 xing or hang).

use pinyin::ToPinyinMulti;

use super::items::ServiceItem;

/// One item's searchable forms, built once when the catalogue arrives.
#[derive(Debug, Clone)]
pub struct SearchIndex {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    item: usize,
    /// The name, department and keywords, lower-case.
    words: Vec<String>,
    /// Per word of `words` that has Chinese in it, its readings per character.
    readings: Vec<Vec<Vec<String>>>,
}

/// Why an item matched, best first; the sort key of the results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Match {
    NameStarts,
    NameContains,
    InitialsStart,
    PinyinStarts,
    Elsewhere,
}

fn readings_of(word: &str) -> Vec<Vec<String>> {
    word.to_pinyin_multi()
        .zip(word.chars())
        .map(|(multi, c)| match multi {
            Some(m) => {
                let mut r: Vec<String> = (0..m.count())
                    .map(|i| m.get(i).plain().to_string())
                    .collect();
                r.dedup();
                r
            }
            None => vec![c.to_lowercase().to_string()],
        })
        .collect()
}

/// Whether `query` (ASCII letters) spells the start of a run of characters either by their
/// initials (one letter each) or by whole syllables, in any mix (`hjzm`, `huji`, `hujizm`),
/// starting at any character.
fn spells(readings: &[Vec<String>], query: &str) -> Option<Match> {
    let q = query.as_bytes();
    for (initials_only, found) in [(true, Match::InitialsStart), (false, Match::PinyinStarts)] {
        // memo[i][j]: whether characters from i on can spell q[j..]; at most name × query
        // states, so a long query over a long name stays cheap.
        let mut memo = vec![vec![None; q.len() + 1]; readings.len() + 1];
        for start in 0..readings.len() {
            if from(readings, q, start, 0, initials_only, &mut memo) {
                return Some(found);
            }
        }
    }
    None
}

fn from(
    readings: &[Vec<String>],
    q: &[u8],
    i: usize,
    j: usize,
    initials_only: bool,
    memo: &mut Vec<Vec<Option<bool>>>,
) -> bool {
    if j == q.len() {
        return true;
    }
    if i == readings.len() {
        return false;
    }
    if let Some(known) = memo[i][j] {
        return known;
    }
    let rest = &q[j..];
    let mut ok = false;
    for r in &readings[i] {
        let r = r.as_bytes();
        if r.first() == rest.first() && from(readings, q, i + 1, j + 1, initials_only, memo) {
            ok = true;
            break;
        }
        if initials_only || r.len() < 2 {
            continue;
        }
        if rest.len() >= r.len()
            && rest.starts_with(r)
            && from(readings, q, i + 1, j + r.len(), initials_only, memo)
        {
            ok = true;
            break;
        }
        // A syllable typed only partly is fine at the very end: `huj` for 户籍.
        if rest.len() < r.len() && r.starts_with(rest) {
            ok = true;
            break;
        }
    }
    memo[i][j] = Some(ok);
    ok
}

impl SearchIndex {
    pub fn new(items: &[ServiceItem]) -> SearchIndex {
        let entries = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let mut words = vec![item.name.zh.to_lowercase()];
                if let Some(en) = &item.name.en {
                    words.push(en.to_lowercase());
                }
                words.push(item.department.zh.to_lowercase());
                words.extend(item.keywords.iter().map(|k| k.to_lowercase()));
                let readings = words
                    .iter()
                    .filter(|w| w.chars().any(super::forms::is_han))
                    .map(|w| readings_of(w))
                    .collect();
                Entry {
                    item: i,
                    words,
                    readings,
                }
            })
            .collect();
        SearchIndex { entries }
    }

    /// Indexes of the matching items in `items`, best match first, then catalogue order.
    /// Spaces in the query are ignored; an empty query matches nothing.
    pub fn search(&self, query: &str) -> Vec<(usize, Match)> {
        let q: String = query
            .chars()
            .filter(|c| !c.is_whitespace())
            .flat_map(char::to_lowercase)
            .collect();
        if q.is_empty() || q.chars().count() > 40 {
            return Vec::new();
        }
        let letters = q.chars().all(|c| c.is_ascii_alphabetic());
        let mut found: Vec<(usize, Match)> = self
            .entries
            .iter()
            .filter_map(|e| {
                let name = &e.words[0];
                let m = if name.starts_with(&q) {
                    Some(Match::NameStarts)
                } else if name.contains(&q) {
                    Some(Match::NameContains)
                } else if letters {
                    e.readings
                        .iter()
                        .filter_map(|r| spells(r, &q))
                        .min()
                        .or_else(|| {
                            e.words
                                .iter()
                                .any(|w| w.contains(&q))
                                .then_some(Match::Elsewhere)
                        })
                } else {
                    e.words
                        .iter()
                        .any(|w| w.contains(&q))
                        .then_some(Match::Elsewhere)
                };
                m.map(|m| (e.item, m))
            })
            .collect();
        found.sort_by_key(|&(i, m)| (m, i));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_whole_syllables_and_mixes_spell_a_name() {
        let r = readings_of("户籍证明");
        assert_eq!(spells(&r, "hjzm"), Some(Match::InitialsStart));
        assert_eq!(
            spells(&r, "zm"),
            Some(Match::InitialsStart),
            "from any character"
        );
        assert_eq!(spells(&r, "huji"), Some(Match::PinyinStarts));
        assert_eq!(spells(&r, "hujizm"), Some(Match::PinyinStarts));
        assert_eq!(
            spells(&r, "huj"),
            Some(Match::PinyinStarts),
            "a syllable begun"
        );
        assert_eq!(spells(&r, "hjzmx"), None);
        assert_eq!(spells(&r, "jh"), None);
        // 行 reads xing or hang: 银行 is found by yh, 行政 by xz.
        assert_eq!(
            spells(&readings_of("银行"), "yh"),
            Some(Match::InitialsStart)
        );
        assert_eq!(
            spells(&readings_of("行政"), "xz"),
            Some(Match::InitialsStart)
        );
    }

    #[test]
    fn long_or_odd_queries_answer_quickly_and_never_panic() {
        let r = readings_of("不动产登记信息查询");
        assert_eq!(spells(&r, &"a".repeat(40)), None);
        assert_eq!(spells(&r, "bdcdjxxcx"), Some(Match::InitialsStart));
    }
}
