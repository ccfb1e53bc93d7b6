//! The organisation as Backstage models it: groups under groups (`parentOf` / `childOf`), any
//! depth, any `spec.type`. Catalogs are written by people, so a group may name a parent that is
//! not in the catalog, two parents, or a cycle: each is reported and the tree stays a tree.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Something in the catalog's group structure that could not be a tree as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeProblem {
    /// A group names a parent the catalog does not hold; it is shown at the top.
    MissingParent {
        /// The group.
        group: String,
        /// The parent it names.
        parent: String,
    },
    /// A group has more than one parent; the first by key is kept.
    SeveralParents {
        /// The group.
        group: String,
        /// Its parents, the kept one first.
        parents: Vec<String>,
    },
    /// Groups that are each other's ancestors; the cycle is cut above `group`.
    Cycle {
        /// Where the cycle was cut: this group is shown at the top.
        group: String,
        /// The groups around the cycle, from `group`.
        path: Vec<String>,
    },
}

impl TreeProblem {
    /// The groups it is about, by key.
    pub fn groups(&self) -> Vec<&str> {
        match self {
            Self::MissingParent { group, .. } => vec![group.as_str()],
            Self::SeveralParents { group, parents } => std::iter::once(group)
                .chain(parents)
                .map(String::as_str)
                .collect(),
            Self::Cycle { path, .. } => path.iter().map(String::as_str).collect(),
        }
    }
}

impl std::fmt::Display for TreeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingParent { group, parent } => write!(
                f,
                "{group} names the parent {parent}, which is not in the catalog: shown at the top"
            ),
            Self::SeveralParents { group, parents } => write!(
                f,
                "{group} has {} parents ({}): shown under {}",
                parents.len(),
                parents.join(", "),
                parents[0]
            ),
            Self::Cycle { group, path } => write!(
                f,
                "groups form a cycle ({} → {group}): {group} is shown at the top",
                path.join(" → ")
            ),
        }
    }
}

/// Groups as a forest: each group has at most one parent, and no group is its own ancestor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgTree {
    parent: HashMap<String, String>,
    children: BTreeMap<String, Vec<String>>,
    roots: Vec<String>,
    depth: HashMap<String, usize>,
    problems: Vec<TreeProblem>,
}

impl OrgTree {
    /// The tree of `groups` (cache keys) from `parent_of` edges (parent, child). Edges that name
    /// a group outside `groups` as parent are reported; a child outside it is ignored (a parent
    /// naming a child the catalog does not hold has nothing to show).
    pub fn build(groups: &[String], parent_of: &[(String, String)]) -> Self {
        let known: BTreeSet<&str> = groups.iter().map(String::as_str).collect();
        let mut parents: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut problems = Vec::new();
        for (parent, child) in parent_of {
            if !known.contains(child.as_str()) || parent == child {
                continue;
            }
            if known.contains(parent.as_str()) {
                parents.entry(child).or_default().insert(parent);
            } else {
                problems.push(TreeProblem::MissingParent {
                    group: child.clone(),
                    parent: parent.clone(),
                });
            }
        }
        let mut parent: HashMap<String, String> = HashMap::new();
        for (child, of) in &parents {
            let of: Vec<String> = of.iter().map(|p| p.to_string()).collect();
            if of.len() > 1 {
                problems.push(TreeProblem::SeveralParents {
                    group: child.to_string(),
                    parents: of.clone(),
                });
            }
            parent.insert(child.to_string(), of[0].clone());
        }
        // Walk up from each group; meeting the walk's own path again is a cycle, cut at the
        // group the walk met (so the same cycle is cut at the same place whatever the order).
        let mut settled: BTreeSet<String> = BTreeSet::new();
        for group in groups {
            let mut path: Vec<String> = Vec::new();
            let mut on_path: HashMap<String, usize> = HashMap::new();
            let mut at = group.clone();
            loop {
                if settled.contains(&at) {
                    break;
                }
                if let Some(&start) = on_path.get(&at) {
                    let cycle = path[start..].to_vec();
                    let cut = cycle.iter().min().expect("a cycle has groups").clone();
                    let from = cycle.iter().position(|g| *g == cut).unwrap_or(0);
                    let mut around: Vec<String> = cycle[from..].to_vec();
                    around.extend_from_slice(&cycle[..from]);
                    parent.remove(&cut);
                    problems.push(TreeProblem::Cycle {
                        group: cut,
                        path: around,
                    });
                    break;
                }
                on_path.insert(at.clone(), path.len());
                path.push(at.clone());
                match parent.get(&at) {
                    Some(up) => at = up.clone(),
                    None => break,
                }
            }
            settled.extend(path);
        }
        let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut roots = Vec::new();
        for group in groups {
            match parent.get(group) {
                Some(up) => children.entry(up.clone()).or_default().push(group.clone()),
                None => roots.push(group.clone()),
            }
        }
        for list in children.values_mut() {
            list.sort();
        }
        roots.sort();
        problems.sort_by_key(|p| p.to_string());
        problems.dedup();
        // Depths in one walk down from the roots: asking each group for its path would cost a
        // chain of groups the square of its length.
        let mut depth: HashMap<String, usize> = roots.iter().map(|r| (r.clone(), 0)).collect();
        let mut next: Vec<&String> = roots.iter().collect();
        while let Some(group) = next.pop() {
            let below = depth[group] + 1;
            for child in children.get(group).into_iter().flatten() {
                depth.insert(child.clone(), below);
                next.push(child);
            }
        }
        Self {
            parent,
            children,
            roots,
            depth,
            problems,
        }
    }

    /// Groups with no parent in the tree, by key.
    pub fn roots(&self) -> &[String] {
        &self.roots
    }

    /// A group's children, by key.
    pub fn children(&self, group: &str) -> &[String] {
        self.children.get(group).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A group's parent in the tree.
    pub fn parent(&self, group: &str) -> Option<&str> {
        self.parent.get(group).map(String::as_str)
    }

    /// The group and everything below it, the group first, depth first.
    pub fn subtree(&self, group: &str) -> Vec<String> {
        let mut out = vec![group.to_string()];
        let mut next = 0;
        while next < out.len() {
            let children = self.children(&out[next]).to_vec();
            out.extend(children);
            next += 1;
        }
        out
    }

    /// From the top of the tree down to the group.
    pub fn path(&self, group: &str) -> Vec<String> {
        let mut path = vec![group.to_string()];
        while let Some(up) = self.parent(path.last().expect("never empty")) {
            path.push(up.to_string());
        }
        path.reverse();
        path
    }

    /// How deep the group is: 0 at the top (and for a group the tree does not hold).
    pub fn depth(&self, group: &str) -> usize {
        self.depth.get(group).copied().unwrap_or(0)
    }

    /// What the catalog says that could not be a tree as written.
    pub fn problems(&self) -> &[TreeProblem] {
        &self.problems
    }

    /// Adds up a value over each group's subtree: `direct` holds each group's own, and the
    /// result each group's own plus everything below it.
    pub fn roll_up<T>(&self, direct: &HashMap<String, T>) -> HashMap<String, T>
    where
        T: Clone + Default + std::ops::AddAssign,
    {
        let mut below: HashMap<String, T> = HashMap::new();
        // Children before parents: the reverse of a breadth-first order from the roots.
        let mut order: Vec<&String> = self.roots.iter().collect();
        let mut next = 0;
        while next < order.len() {
            order.extend(self.children(order[next]));
            next += 1;
        }
        for group in order.into_iter().rev() {
            let mut total = direct.get(group).cloned().unwrap_or_default();
            for child in self.children(group) {
                if let Some(child_total) = below.get(child) {
                    total += child_total.clone();
                }
            }
            below.insert(group.clone(), total);
        }
        below
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn edges(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect()
    }

    #[test]
    fn a_department_with_teams_and_sub_teams_rolls_up() {
        let tree = OrgTree::build(
            &keys(&["eng", "checkout", "platform", "runtime", "delivery", "solo"]),
            &edges(&[
                ("eng", "checkout"),
                ("eng", "platform"),
                ("platform", "runtime"),
                ("platform", "delivery"),
                // Backstage writes both directions; the same edge twice is one edge.
                ("eng", "checkout"),
            ]),
        );
        assert!(tree.problems().is_empty(), "{:?}", tree.problems());
        assert_eq!(tree.roots(), &keys(&["eng", "solo"])[..]);
        assert_eq!(
            tree.children("platform"),
            &keys(&["delivery", "runtime"])[..]
        );
        assert_eq!(tree.path("runtime"), keys(&["eng", "platform", "runtime"]));
        assert_eq!(tree.depth("runtime"), 2);
        assert_eq!(
            tree.subtree("platform"),
            keys(&["platform", "delivery", "runtime"])
        );
        let direct: HashMap<String, i64> = [("checkout", 3), ("platform", 1), ("runtime", 4)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let all = tree.roll_up(&direct);
        assert_eq!(all["eng"], 8);
        assert_eq!(all["platform"], 5);
        assert_eq!(all["delivery"], 0);
        assert_eq!(all["solo"], 0);
    }

    #[test]
    fn a_cycle_is_cut_and_reported_not_looped() {
        let tree = OrgTree::build(
            &keys(&["a", "b", "c", "d"]),
            &edges(&[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]),
        );
        assert_eq!(
            tree.problems(),
            &[TreeProblem::Cycle {
                group: "a".into(),
                path: keys(&["a", "c", "b"])
            }]
        );
        assert_eq!(tree.roots(), &keys(&["a"])[..]);
        assert_eq!(tree.subtree("a"), keys(&["a", "b", "c", "d"]));
        let direct: HashMap<String, i64> = keys(&["a", "b", "c", "d"])
            .into_iter()
            .map(|k| (k, 1))
            .collect();
        assert_eq!(tree.roll_up(&direct)["a"], 4);
        assert!(tree.problems()[0].to_string().contains("cycle"));
    }

    #[test]
    fn a_self_parent_and_a_missing_parent_and_two_parents_are_named() {
        let tree = OrgTree::build(
            &keys(&["x", "y", "p1", "p2"]),
            &edges(&[("x", "x"), ("gone", "y"), ("p2", "x"), ("p1", "x")]),
        );
        assert_eq!(tree.parent("x"), Some("p1"));
        assert!(tree.roots().contains(&"y".to_string()));
        let said: Vec<String> = tree.problems().iter().map(ToString::to_string).collect();
        assert!(
            said.iter()
                .any(|p| p.contains("y names the parent gone, which is not in the catalog")),
            "{said:?}"
        );
        assert!(
            said.iter()
                .any(|p| p.contains("x has 2 parents (p1, p2): shown under p1")),
            "{said:?}"
        );
    }

    #[test]
    fn a_long_chain_does_not_recurse() {
        let names: Vec<String> = (0..20_000).map(|i| format!("g{i:05}")).collect();
        let parent_of: Vec<(String, String)> = names
            .windows(2)
            .map(|w| (w[0].clone(), w[1].clone()))
            .collect();
        let mut deepest_first = names.clone();
        deepest_first.reverse();
        let tree = OrgTree::build(&deepest_first, &parent_of);
        assert_eq!(tree.depth("g19999"), 19_999);
        let depths: usize = names.iter().map(|n| tree.depth(n)).sum();
        assert_eq!(depths, 19_999 * 20_000 / 2);
        let direct: HashMap<String, i64> = names.iter().map(|n| (n.clone(), 1)).collect();
        assert_eq!(tree.roll_up(&direct)["g00000"], 20_000);
    }
}
