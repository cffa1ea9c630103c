//! The keys claimed more than once, each ranked, for a full resolve.

use std::ops::Range;

use super::claim::Claim;
use super::decision::{Conflict, Decision};
use super::group::contested;
use super::normalize::{InvalidRoute, RouteKey};
use super::outcome::OnKey;
use super::policy::RoutePolicy;
use super::rule::{Standing, line_up};

/// One claim per slot, in id order, with its key.
pub(crate) type Slot<'a> = (&'a Claim, Result<&'a RouteKey, &'a InvalidRoute>);

/// Every contested key ranked. Claims alone on their key are not in here at all: they are nine
/// in ten, and per claim this keeps only a slot number, so memory stays small.
pub(crate) struct Contests<'a> {
    /// The claims on contested keys ("members"), key after key, sorted by id within a key.
    members: Vec<&'a Claim>,
    /// Per member.
    standings: Vec<Standing>,
    /// Per member, its index in `contests`.
    contest_of: Vec<usize>,
    contests: Vec<Contest<'a>>,
    /// Per slot, its member, or [`ALONE`].
    member_of: Vec<u32>,
}

const ALONE: u32 = u32::MAX;

struct Contest<'a> {
    key: &'a RouteKey,
    /// Its range of `members`.
    members: Range<usize>,
    /// First and second in line, as indices into the range.
    first: Option<usize>,
    second: Option<usize>,
}

impl<'a> Contests<'a> {
    pub(crate) fn rank(slots: &[Slot<'a>], policy: &RoutePolicy) -> Self {
        let contested = contested(slots.len(), |slot| slots[slot].1.ok());
        let members: Vec<&Claim> = contested.slots.iter().map(|&slot| slots[slot].0).collect();
        let mut standings = Vec::with_capacity(members.len());
        let mut contest_of = Vec::with_capacity(members.len());
        let mut contests = Vec::with_capacity(contested.keys.len());
        let (mut on_key, mut line) = (Vec::new(), Vec::new());
        for range in contested.keys {
            let key = slots[contested.slots[range.start]]
                .1
                .expect("only claims with a key are grouped");
            let everyone = &members[range.clone()];
            let (first, second) = line_up(key, everyone, policy, &mut on_key, &mut line);
            standings.extend(&on_key);
            contest_of.extend(std::iter::repeat_n(contests.len(), everyone.len()));
            contests.push(Contest {
                key,
                members: range,
                first,
                second,
            });
        }
        let mut member_of = vec![ALONE; slots.len()];
        for (member, &slot) in contested.slots.iter().enumerate() {
            member_of[slot] = u32::try_from(member).expect("fewer than 4 billion claims");
        }
        Self {
            members,
            standings,
            contest_of,
            contests,
            member_of,
        }
    }

    /// The decision of the claim in `slot`, if its key is contested.
    pub(crate) fn decide(
        &self,
        slot: usize,
        claim: &Claim,
        policy: &RoutePolicy,
    ) -> Option<Decision> {
        let member = self.member_of[slot];
        if member == ALONE {
            return None;
        }
        let member = member as usize;
        let on_key = self.on_key(&self.contests[self.contest_of[member]]);
        Some(on_key.decide(claim, self.standings[member], policy))
    }

    /// One entry per contested key, in key order.
    pub(crate) fn conflicts(&self) -> Vec<Conflict> {
        let mut conflicts: Vec<Conflict> = (self.contests.iter())
            .filter_map(|contest| self.on_key(contest).conflict())
            .collect();
        conflicts.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        conflicts
    }

    fn on_key(&self, contest: &Contest<'a>) -> OnKey<'_, 'a> {
        let everyone = &self.members[contest.members.clone()];
        OnKey {
            key: contest.key,
            everyone,
            holder: contest.first.map(|i| everyone[i]),
            runner_up: contest.second.map(|i| everyone[i]),
        }
    }
}
