# select-profile.awk: the configuration of a partition and model to profile, chosen from its
# finished runs (their "achieved tok/s" line). Run in the sweep's directory:
#   awk -v partition=P -v model=M -v selector=fastest|slowest|FLAG_SET -f tools/select-profile.awk manifest.tsv
# Prints "flag_set<TAB>threads<TAB>binary<TAB>mean tok/s"; exits 1 when no run finished.
# Each flag set stands for its best thread count (highest mean tok/s over repetitions);
# fastest / slowest is the flag set whose best is highest / lowest, a flag-set name that
# flag set. Manifest lines whose run name holds a '/' are not runs.
BEGIN { FS = "\t" }
$2 !~ /\// && $3 == model && index($9, "\"partition\": \"" partition "\"") {
  log_file = "runs/" $2 "/stderr.txt"
  while ((getline line < log_file) > 0)
    if (line ~ /^achieved tok\/s: /) {
      key = $4 FS $5 FS $7
      sum[key] += substr(line, 17)
      count[key]++
    }
  close(log_file)
}
END {
  for (key in sum) {
    split(key, part, FS)
    mean = sum[key] / count[key]
    if (!(part[1] in best) || mean > best[part[1]]) { best[part[1]] = mean; config[part[1]] = key }
  }
  for (flag_set in best) {
    if (selector == "fastest") better = best[flag_set] > chosen_mean
    else if (selector == "slowest") better = best[flag_set] < chosen_mean
    else better = flag_set == selector
    if (better || chosen == "" && (selector == "fastest" || selector == "slowest")) {
      chosen = flag_set; chosen_mean = best[flag_set]
    }
  }
  if (chosen == "") exit 1
  printf "%s\t%.3f\n", config[chosen], chosen_mean
}
