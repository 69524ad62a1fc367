//! The state's entries in the plan's terms: each assignment and policy under the address a
//! plan prints for it (`assignment sre-prod/mei (member, eligible)`, `policy sre-prod
//! (member)`), made by the plan's own functions, and found again by that address, a unique
//! short form of it, or the key.

use super::State;
use super::change::{assignment_address, policy_address};

/// What an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    Assignment,
    Policy,
}

impl Object {
    pub fn as_str(self) -> &'static str {
        match self {
            Object::Assignment => "assignment",
            Object::Policy => "policy",
        }
    }
}

/// One assignment or policy of the state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub object: Object,
    /// As the plan prints it.
    pub address: String,
    pub key: String,
}

impl Entry {
    /// The forms of the address that name this entry too: without the object word
    /// (`sre-prod/mei (member, eligible)`), and without the role and type as well
    /// (`sre-prod/mei`, `assignment sre-prod/mei`; `sre-prod`, `policy sre-prod`).
    fn short_forms(&self) -> Vec<&str> {
        let mut forms = Vec::new();
        let prefix = self.object.as_str();
        let bare = self
            .address
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix(' '))
            .unwrap_or(&self.address);
        forms.push(bare);
        // Role and type come last, in the one pair of parentheses a role or type never holds.
        if let Some((names, _)) = self.address.rsplit_once(" (") {
            forms.push(names);
            if let Some(names) = names.strip_prefix(prefix).and_then(|n| n.strip_prefix(' ')) {
                forms.push(names);
            }
        }
        forms
    }

    /// Whether `query` names this entry: its address, its key, or one of its short forms.
    pub fn named_by(&self, query: &str) -> bool {
        self.address == query || self.key == query || self.short_forms().contains(&query)
    }
}

/// Every assignment and policy of the state, by address (assignments first).
pub fn entries(state: &State) -> Vec<Entry> {
    let mut all: Vec<Entry> = state
        .assignments
        .iter()
        .map(|a| Entry {
            object: Object::Assignment,
            address: assignment_address(&a.spec),
            key: a.key.clone(),
        })
        .collect();
    all.extend(state.policies.iter().map(|p| Entry {
        object: Object::Policy,
        address: policy_address(&p.spec),
        key: p.key.clone(),
    }));
    all.sort_by(|a, b| {
        (a.object.as_str(), &a.address, &a.key).cmp(&(b.object.as_str(), &b.address, &b.key))
    });
    all
}

/// How an entry differs between two states (see [`changes`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Changed {
    /// Only the second state records it.
    Added,
    /// Only the first does.
    Removed,
    /// Both do, with other contents.
    Modified,
}

/// The entries that differ from `before` to `after` (by key), in address order.
pub fn changes(before: &State, after: &State) -> Vec<(Changed, Entry)> {
    let was = entries(before);
    let now = entries(after);
    let same = |e: &Entry| match e.object {
        Object::Assignment => before.assignment(&e.key) == after.assignment(&e.key),
        Object::Policy => before.policy(&e.key) == after.policy(&e.key),
    };
    let mut out: Vec<(Changed, Entry)> = Vec::new();
    for e in &now {
        if !was.iter().any(|w| w.object == e.object && w.key == e.key) {
            out.push((Changed::Added, e.clone()));
        } else if !same(e) {
            out.push((Changed::Modified, e.clone()));
        }
    }
    for w in &was {
        if !now.iter().any(|e| e.object == w.object && e.key == w.key) {
            out.push((Changed::Removed, w.clone()));
        }
    }
    out.sort_by(|(_, a), (_, b)| {
        (a.object.as_str(), &a.address, &a.key).cmp(&(b.object.as_str(), &b.address, &b.key))
    });
    out
}

/// Why a query names no single entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// Nothing is named so.
    Unknown,
    /// More than one entry is: their addresses and keys.
    Ambiguous(Vec<(String, String)>),
}

/// The one entry `query` names: the entry whose address or key it is, else the one entry
/// one of whose short forms it is.
pub fn resolve<'a>(all: &'a [Entry], query: &str) -> Result<&'a Entry, Unresolved> {
    let query = query.trim();
    // A key names one entry. An address may name two (group `a/b` with `c`, group `a` with
    // `b/c`): then it is as ambiguous as a short form, never the first one found.
    if let Some(exact) = all.iter().find(|e| e.key == query) {
        return Ok(exact);
    }
    let mut named: Vec<&Entry> = all.iter().filter(|e| e.address == query).collect();
    if named.is_empty() {
        named = all.iter().filter(|e| e.named_by(query)).collect();
    }
    match named.as_slice() {
        [] => Err(Unresolved::Unknown),
        [one] => Ok(one),
        many => Err(Unresolved::Ambiguous(
            many.iter()
                .map(|e| (e.address.clone(), e.key.clone()))
                .collect(),
        )),
    }
}

/// Drop the entries with these keys from the state's assignments and policies; returns how
/// many went. The entries an apply to the state alone removed (`removed`) and those that
/// ended (`ended`) stay: they are not entries a plan would create again.
pub fn forget(state: &mut State, keys: &[&str]) -> usize {
    let before = state.assignments.len() + state.policies.len();
    state
        .assignments
        .retain(|a| !keys.contains(&a.key.as_str()));
    state.policies.retain(|p| !keys.contains(&p.key.as_str()));
    before - state.assignments.len() - state.policies.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(object: Object, address: &str, key: &str) -> Entry {
        Entry {
            object,
            address: address.to_owned(),
            key: key.to_owned(),
        }
    }

    #[test]
    fn short_forms_name_an_entry_once_and_ambiguity_is_reported() {
        let all = vec![
            entry(
                Object::Assignment,
                "assignment sre-prod/mei (member, eligible)",
                "assignment/name:sre-prod/name:mei/member/eligible",
            ),
            entry(
                Object::Assignment,
                "assignment sre-prod/mei (owner, active)",
                "assignment/name:sre-prod/name:mei/owner/active",
            ),
            entry(
                Object::Policy,
                "policy sre-prod (member)",
                "policy/name:sre-prod/member",
            ),
        ];
        let key = |q: &str| resolve(&all, q).map(|e| e.key.as_str());
        assert_eq!(
            key("sre-prod/mei (owner, active)"),
            Ok("assignment/name:sre-prod/name:mei/owner/active")
        );
        assert_eq!(key("sre-prod"), Ok("policy/name:sre-prod/member"));
        assert_eq!(key("policy sre-prod"), Ok("policy/name:sre-prod/member"));
        assert_eq!(key("sre-prod (member)"), Ok("policy/name:sre-prod/member"));
        assert_eq!(
            key("assignment/name:sre-prod/name:mei/member/eligible"),
            Ok("assignment/name:sre-prod/name:mei/member/eligible")
        );
        assert_eq!(
            key("sre-prod/mei"),
            Err(Unresolved::Ambiguous(vec![
                (
                    "assignment sre-prod/mei (member, eligible)".to_owned(),
                    "assignment/name:sre-prod/name:mei/member/eligible".to_owned()
                ),
                (
                    "assignment sre-prod/mei (owner, active)".to_owned(),
                    "assignment/name:sre-prod/name:mei/owner/active".to_owned()
                ),
            ]))
        );
        assert_eq!(key("sre-prod/mai"), Err(Unresolved::Unknown));
        assert_eq!(key("mei"), Err(Unresolved::Unknown));
    }
}
