//! Carrying retained state across a reset or a hot swap, the way an online
//! change on a PLC does it.
//!
//! Same retain size and layout id: the whole area is copied, byte for byte
//! (a reset always is). Otherwise retain signals are carried one by one,
//! matched by name and type: same name and type, value kept; a new name
//! starts from the new version's default; a name that is gone is dropped; the
//! same name with another type starts from its default and is reported
//! (bytes are never reinterpreted).

use crate::image_layout::{ImageLayout, Signal};
use crate::instance::LiveInstance;
use std::fmt::Write as _;

/// What carrying the retain area from one version to another does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetainPlan {
    /// The whole area is copied (same size and layout id).
    pub whole_area: bool,
    pub kept: usize,
    pub added: usize,
    pub dropped: usize,
    pub retyped: usize,
    /// One line per retain signal, in the new version's order, then the
    /// dropped ones: `name type: kept` / `added` / `dropped` / `retyped ...`.
    pub lines: Vec<String>,
    /// Byte copies (old offset, new offset, length) inside the retain areas.
    copies: Vec<(usize, usize, usize)>,
    /// The summary line for the program's notice.
    pub summary: String,
}

fn retain_signals(layout: &ImageLayout) -> impl Iterator<Item = &Signal> {
    layout
        .signals
        .iter()
        .filter(|s| s.area == crate::image_layout::Area::Retain)
}

fn type_name(signal: &Signal) -> String {
    format!("{:?}", signal.ty).to_lowercase()
}

/// The plan for going from `old` to `new`.
pub fn plan(old: &ImageLayout, new: &ImageLayout) -> RetainPlan {
    let mut plan = RetainPlan::default();
    if new.retain.len == 0 {
        plan.dropped = retain_signals(old).count();
        for signal in retain_signals(old) {
            plan.lines
                .push(format!("{} {}: dropped", signal.name, type_name(signal)));
        }
        return plan;
    }
    if old.retain.len == new.retain.len && old.retain_layout == new.retain_layout {
        plan.whole_area = true;
        plan.copies.push((0, 0, new.retain.len as usize));
        for signal in retain_signals(new) {
            plan.kept += 1;
            plan.lines
                .push(format!("{} {}: kept", signal.name, type_name(signal)));
        }
        plan.summary = format!(
            "retain area carried over ({} bytes, layout id {})",
            new.retain.len, new.retain_layout
        );
        return plan;
    }
    for signal in retain_signals(new) {
        let ty = type_name(signal);
        match retain_signals(old).find(|old| old.name == signal.name) {
            Some(old) if old.ty == signal.ty => {
                plan.kept += 1;
                plan.copies.push((
                    old.offset as usize,
                    signal.offset as usize,
                    signal.ty.size() as usize,
                ));
                plan.lines.push(format!("{} {ty}: kept", signal.name));
            }
            Some(old) => {
                plan.retyped += 1;
                plan.lines.push(format!(
                    "{} {ty}: retyped from {}, starts from its default",
                    signal.name,
                    type_name(old)
                ));
            }
            None => {
                plan.added += 1;
                plan.lines.push(format!(
                    "{} {ty}: added, starts from its default",
                    signal.name
                ));
            }
        }
    }
    for old in retain_signals(old) {
        if !retain_signals(new).any(|signal| signal.name == old.name) {
            plan.dropped += 1;
            plan.lines
                .push(format!("{} {}: dropped", old.name, type_name(old)));
        }
    }
    plan.summary = format!(
        "retain area not carried over: the new version declares {} bytes with layout id {}, the old one {} bytes with layout id {}; retain signals matched by name: {} kept, {} added, {} dropped, {} retyped",
        new.retain.len, new.retain_layout, old.retain.len, old.retain_layout,
        plan.kept, plan.added, plan.dropped, plan.retyped
    );
    plan
}

impl RetainPlan {
    /// The report: one line per retain signal.
    pub fn report(&self) -> String {
        let mut text = String::new();
        for line in &self.lines {
            let _ = writeln!(text, "{line}");
        }
        text
    }

    /// The program's notice after the carry: the summary and the report.
    pub(crate) fn notice(&self) -> String {
        if self.summary.is_empty() {
            return String::new();
        }
        if self.whole_area || self.lines.is_empty() {
            return self.summary.clone();
        }
        format!("{}\n{}", self.summary, self.report().trim_end())
    }

    /// Applies the plan from `old` to `fresh`; true when anything was carried.
    pub(crate) fn carry(&self, old: &mut LiveInstance, fresh: &mut LiveInstance) -> bool {
        let (from, to) = (old.image.retain.range(), fresh.image.retain.range());
        let (source, target) = (&old.memory_mut()[from], &mut fresh.memory_mut()[to]);
        let mut carried = false;
        for &(at, to_at, len) in &self.copies {
            // Offsets were checked against their areas when the descriptors
            // were read; `get` keeps a bad plan from panicking anyway.
            if let (Some(value), Some(slot)) =
                (source.get(at..at + len), target.get_mut(to_at..to_at + len))
            {
                slot.copy_from_slice(value);
                carried = true;
            }
        }
        carried
    }
}
