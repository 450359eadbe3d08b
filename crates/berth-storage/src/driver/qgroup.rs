//! Reading btrfs qgroup numbers: what an instance's subvolume refers to, holds alone, and may
//! grow to.

use super::DiskUsage;

/// Parses `btrfs qgroup show -ref --raw PATH`: the `0/<id>` row's referenced, exclusive and
/// referenced-limit columns.
pub fn parse(out: &str) -> Option<DiskUsage> {
    let row = out.lines().find(|l| l.trim_start().starts_with("0/"))?;
    let cols: Vec<&str> = row.split_whitespace().collect();
    let used = cols.get(1)?.parse().ok()?;
    let exclusive = cols.get(2).and_then(|c| c.parse().ok());
    let limit = cols.get(3).and_then(|c| c.parse().ok());
    Some(DiskUsage {
        used,
        exclusive,
        limit,
    })
}

/// Parses `btrfs qgroup show -ref --raw POOL` (btrfs-progs 5.x and later print a `Path`
/// column): every instance subvolume's usage, keyed by instance name. Paths are relative to the
/// filesystem's top level, so an instance is `…instances/<name>`.
pub fn parse_all(out: &str) -> std::collections::HashMap<String, DiskUsage> {
    out.lines()
        .filter(|l| l.trim_start().starts_with("0/"))
        .filter_map(|row| {
            let cols: Vec<&str> = row.split_whitespace().collect();
            let path = *cols.get(5)?;
            let name = path
                .strip_prefix("instances/")
                .or_else(|| path.rsplit_once("/instances/").map(|(_, n)| n))?;
            if name.is_empty() || name.contains('/') {
                return None;
            }
            let usage = DiskUsage {
                used: cols.get(1)?.parse().ok()?,
                exclusive: cols.get(2).and_then(|c| c.parse().ok()),
                limit: cols.get(3).and_then(|c| c.parse().ok()),
            };
            Some((name.to_owned(), usage))
        })
        .collect()
}

/// The level-0 qgroups `btrfs qgroup show` marks `<stale>` (their subvolume is deleted).
pub fn stale(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.trim_end().ends_with("<stale>"))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|id| id.starts_with("0/"))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qgroup_rows() {
        let out = "qgroupid         rfer         excl     max_rfer     max_excl \n\
                   --------         ----         ----     --------     -------- \n\
                   0/257       229425152        16384    536870912         none \n";
        assert_eq!(
            parse(out),
            Some(DiskUsage {
                used: 229_425_152,
                exclusive: Some(16_384),
                limit: Some(536_870_912)
            })
        );
        let unlimited = "0/258 4096 4096 none none\n";
        assert_eq!(parse(unlimited).and_then(|u| u.limit), None);
        assert_eq!(parse("quotas not enabled"), None);
    }

    #[test]
    fn parses_the_whole_pool() {
        let out = "Qgroupid    Referenced    Exclusive  Max referenced  Max exclusive   Path \n\
                   --------    ----------    ---------  --------------  -------------   ---- \n\
                   0/5              16384        16384            none           none   <toplevel>\n\
                   0/256        200000000        16384            none           none   images/debian-12-amd64\n\
                   0/257        229425152        65536       536870912           none   instances/web1\n\
                   0/258          4096000         4096            none           none   var/lib/berth/instances/web2\n\
                   0/259            16384        16384            none           none   snapshots/web1/snap0\n";
        let all = parse_all(out);
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all["web1"].limit, Some(536_870_912));
        assert_eq!(all["web1"].exclusive, Some(65_536));
        assert_eq!(all["web2"].used, 4_096_000);
    }

    #[test]
    fn finds_stale_qgroups() {
        let out = "Qgroupid    Referenced    Exclusive   Path \n\
                   --------    ----------    ---------   ---- \n\
                   0/5              16384        16384   <toplevel>\n\
                   0/256            16384        16384   images/debian-12-amd64\n\
                   0/257            16384        16384   <stale>\n";
        assert_eq!(stale(out), ["0/257"]);
    }
}
