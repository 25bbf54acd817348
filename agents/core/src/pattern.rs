//! Name patterns as BCC's tools take them: globs (`vfs_*`, `sched_?*`, `[a-c]*`) matching a
//! whole name, and with `-r` regular expressions matched at the start of a name (Python's
//! `re.match`): literals, `.`, classes `[a-z_]`/`[^0-9]`, `\d \w \s` and escapes, groups
//! `( )`, alternation `|`, the quantifiers `* + ?` and the anchors `^ $`. A small
//! backtracking matcher: names are short, and a regex crate would weigh more than a tool.

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    alts: Vec<Vec<Node>>,
}

#[derive(Debug, Clone)]
enum Atom {
    Any,
    Char(char),
    /// Ranges, negated?
    Class(Vec<(char, char)>, bool),
    Group(Vec<Vec<Node>>),
    Start,
    End,
}

#[derive(Debug, Clone)]
struct Node {
    atom: Atom,
    min: u32,
    max: u32,
}

const MANY: u32 = u32::MAX;

impl Pattern {
    /// A glob, matching whole names.
    pub fn glob(g: &str) -> Result<Pattern, String> {
        let mut re = String::from("^");
        let mut chars = g.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' => re.push_str(".*"),
                '?' => re.push('.'),
                '[' => {
                    re.push('[');
                    let mut first = true;
                    loop {
                        match chars.next() {
                            None => return Err(format!("unclosed [ in {g:?}")),
                            Some(']') if !first => break,
                            Some('!') if first => re.push('^'),
                            Some('\\') => re.push_str("\\\\"),
                            Some(c) => re.push(c),
                        }
                        first = false;
                    }
                    re.push(']');
                }
                c if "\\.+()|^$".contains(c) => {
                    re.push('\\');
                    re.push(c);
                }
                c => re.push(c),
            }
        }
        re.push('$');
        Pattern::regex(&re)
    }

    /// A regular expression, matched at the start of names.
    pub fn regex(re: &str) -> Result<Pattern, String> {
        let chars: Vec<char> = re.chars().collect();
        let mut p = Parser { c: &chars, i: 0 };
        let alts = p.alternation(0)?;
        if p.i < chars.len() {
            return Err(format!("unmatched ) in {re:?}"));
        }
        Ok(Pattern { alts })
    }

    /// Does the pattern match `name` (from its start)?
    pub fn matches(&self, name: &str) -> bool {
        let s: Vec<char> = name.chars().collect();
        self.alts
            .iter()
            .any(|seq| match_seq(seq, &s, 0, &mut |_| true))
    }

    /// A pattern that is a plain name (no wildcard): the name.
    pub fn literal(glob: &str) -> Option<&str> {
        (!glob.contains(['*', '?', '['])).then_some(glob)
    }
}

/// What a pattern names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `k:FUNC` or `FUNC`.
    Kernel(String),
    /// `t:CATEGORY:EVENT`.
    Tracepoint(String, String),
    /// `u:LIB:FUNC`, `p:LIB:FUNC` or `LIB:FUNC`.
    User(String, String),
}

/// Parses what BCC's funccount and funclatency take: `FUNC` or `k:FUNC` (a kernel function),
/// `t:CATEGORY:EVENT`, and `u:LIB:FUNC`, `p:LIB:FUNC` or `LIB:FUNC` (a user function).
pub fn parse_target(s: &str) -> std::result::Result<Target, String> {
    let parts: Vec<&str> = s.splitn(3, ':').collect();
    let bad = || format!("bad pattern {s:?}: use FUNC, k:FUNC, t:CATEGORY:EVENT or u:LIB:FUNC");
    let t = match parts.as_slice() {
        [f] => Target::Kernel(f.to_string()),
        ["k", f] => Target::Kernel(f.to_string()),
        ["t", c, e] => Target::Tracepoint(c.to_string(), e.to_string()),
        ["u" | "p", l, f] => Target::User(l.to_string(), f.to_string()),
        [l, f] if *l != "t" && *l != "k" && *l != "u" && *l != "p" => {
            Target::User(l.to_string(), f.to_string())
        }
        _ => return Err(bad()),
    };
    let empty = match &t {
        Target::Kernel(f) => f.is_empty(),
        Target::Tracepoint(c, e) => c.is_empty() || e.is_empty(),
        Target::User(l, f) => l.is_empty() || f.is_empty(),
    };
    if empty {
        return Err(bad());
    }
    Ok(t)
}

struct Parser<'a> {
    c: &'a [char],
    i: usize,
}

impl Parser<'_> {
    fn alternation(&mut self, depth: u32) -> Result<Vec<Vec<Node>>, String> {
        if depth > 16 {
            return Err("groups nested too deeply".into());
        }
        let mut alts = vec![Vec::new()];
        while self.i < self.c.len() {
            let c = self.c[self.i];
            match c {
                '|' => {
                    self.i += 1;
                    alts.push(Vec::new());
                    continue;
                }
                ')' if depth > 0 => break,
                ')' => return Err("unmatched )".into()),
                _ => {}
            }
            let atom = self.atom(depth)?;
            let (min, max) = match self.c.get(self.i) {
                Some('*') => (0, MANY),
                Some('+') => (1, MANY),
                Some('?') => (0, 1),
                _ => (1, 1),
            };
            if max != 1 || min != 1 {
                if matches!(atom, Atom::Start | Atom::End) {
                    return Err("nothing to repeat".into());
                }
                self.i += 1;
            }
            alts.last_mut().unwrap().push(Node { atom, min, max });
        }
        Ok(alts)
    }

    fn atom(&mut self, depth: u32) -> Result<Atom, String> {
        let c = self.c[self.i];
        self.i += 1;
        Ok(match c {
            '.' => Atom::Any,
            '^' => Atom::Start,
            '$' => Atom::End,
            '*' | '+' | '?' => return Err(format!("nothing to repeat before {c}")),
            '(' => {
                let alts = self.alternation(depth + 1)?;
                if self.c.get(self.i) != Some(&')') {
                    return Err("unclosed (".into());
                }
                self.i += 1;
                Atom::Group(alts)
            }
            '[' => self.class()?,
            '\\' => {
                let e = *self.c.get(self.i).ok_or("trailing \\")?;
                self.i += 1;
                escape(e)
            }
            c => Atom::Char(c),
        })
    }

    fn class(&mut self) -> Result<Atom, String> {
        let neg = self.c.get(self.i) == Some(&'^');
        if neg {
            self.i += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = *self.c.get(self.i).ok_or("unclosed [")?;
            self.i += 1;
            if c == ']' && !first {
                break;
            }
            first = false;
            let lo = if c == '\\' {
                let e = *self.c.get(self.i).ok_or("trailing \\")?;
                self.i += 1;
                match escape(e) {
                    Atom::Class(r, false) => {
                        ranges.extend(r);
                        continue;
                    }
                    Atom::Char(c) => c,
                    _ => e,
                }
            } else {
                c
            };
            if self.c.get(self.i) == Some(&'-') && self.c.get(self.i + 1).is_some_and(|&n| n != ']')
            {
                let hi = self.c[self.i + 1];
                self.i += 2;
                if hi < lo {
                    return Err(format!("bad range {lo}-{hi}"));
                }
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Ok(Atom::Class(ranges, neg))
    }
}

fn escape(e: char) -> Atom {
    match e {
        'd' => Atom::Class(vec![('0', '9')], false),
        'w' => Atom::Class(vec![('a', 'z'), ('A', 'Z'), ('0', '9'), ('_', '_')], false),
        's' => Atom::Class(vec![(' ', ' '), ('\t', '\r')], false),
        c => Atom::Char(c),
    }
}

/// Matches one occurrence of `atom` at `i`, calling `k` with each end position until it
/// accepts.
fn match_atom(atom: &Atom, s: &[char], i: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    match atom {
        Atom::Start => i == 0 && k(i),
        Atom::End => i == s.len() && k(i),
        Atom::Any => i < s.len() && k(i + 1),
        Atom::Char(c) => s.get(i) == Some(c) && k(i + 1),
        Atom::Class(r, neg) => {
            s.get(i)
                .is_some_and(|&c| r.iter().any(|&(a, b)| a <= c && c <= b) != *neg)
                && k(i + 1)
        }
        Atom::Group(alts) => alts.iter().any(|seq| match_seq(seq, s, i, k)),
    }
}

/// Matches node `n` repeated `count` times so far, then the rest.
fn match_rep(
    nodes: &[Node],
    s: &[char],
    i: usize,
    count: u32,
    k: &mut dyn FnMut(usize) -> bool,
) -> bool {
    let n = &nodes[0];
    // Greedy: one more first, then stop.
    if count < n.max
        && match_atom(&n.atom, s, i, &mut |j| {
            // An empty step past the minimum would repeat for ever.
            (j > i || count < n.min) && match_rep(nodes, s, j, count + 1, k)
        })
    {
        return true;
    }
    count >= n.min && match_seq(&nodes[1..], s, i, k)
}

fn match_seq(nodes: &[Node], s: &[char], i: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
    if nodes.is_empty() {
        return k(i);
    }
    match_rep(nodes, s, i, 0, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_like_bcc() {
        let t = |s| parse_target(s).unwrap();
        assert_eq!(t("vfs_*"), Target::Kernel("vfs_*".into()));
        assert_eq!(t("k:vfs_read"), Target::Kernel("vfs_read".into()));
        assert_eq!(
            t("t:sched:sched_*"),
            Target::Tracepoint("sched".into(), "sched_*".into())
        );
        assert_eq!(
            t("u:/lib/x/libc.so.6:malloc"),
            Target::User("/lib/x/libc.so.6".into(), "malloc".into())
        );
        assert_eq!(t("c:str*"), Target::User("c".into(), "str*".into()));
        assert_eq!(t("p:c:malloc"), Target::User("c".into(), "malloc".into()));
        for bad in ["t:sched", "k:", "u::f", "t::x", "a:b:c:d"] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn globs() {
        let g = Pattern::glob("vfs_*").unwrap();
        assert!(g.matches("vfs_read") && g.matches("vfs_") && !g.matches("xvfs_read"));
        let g = Pattern::glob("sched_?ake*").unwrap();
        assert!(g.matches("sched_wakeup") && !g.matches("sched_switch"));
        let g = Pattern::glob("[!a-m]*.x").unwrap();
        assert!(g.matches("z1.x") && !g.matches("b1.x") && !g.matches("z1yx"));
        assert!(Pattern::glob("a[b").is_err());
        assert_eq!(Pattern::literal("malloc"), Some("malloc"));
        assert_eq!(Pattern::literal("str*"), None);
    }

    #[test]
    fn regexes() {
        let r = Pattern::regex("vfs_(read|write)$").unwrap();
        assert!(r.matches("vfs_read") && r.matches("vfs_write") && !r.matches("vfs_readv"));
        let r = Pattern::regex("^tcp_.*send").unwrap();
        assert!(r.matches("tcp_sendmsg") && r.matches("tcp_v4_send_reset"));
        assert!(!r.matches("udp_sendmsg"));
        // re.match: anchored at the start only.
        let r = Pattern::regex("do_sys").unwrap();
        assert!(r.matches("do_sys_open") && !r.matches("__do_sys_open"));
        let r = Pattern::regex("a\\d+b?[^x]").unwrap();
        assert!(r.matches("a12c") && r.matches("a1bc") && !r.matches("ab") && !r.matches("a1x"));
        let r = Pattern::regex("(a|b)*c").unwrap();
        assert!(r.matches("ababc") && r.matches("c") && !r.matches("abd"));
        let r = Pattern::regex("x(y?)*z").unwrap();
        assert!(r.matches("xz") && r.matches("xyyz"));
        for bad in ["(ab", "ab)", "*a", "[a", "a\\", "[z-a]"] {
            assert!(Pattern::regex(bad).is_err(), "{bad}");
        }
    }
}
