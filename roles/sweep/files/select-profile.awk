# select-profile.awk: which configuration of a partition and model to profile, from the runs
# that finished. Reads manifest.tsv (run from the sweep's directory); prints
# "flag_set<TAB>threads<TAB>binary<TAB>mean tok/s" of the selected configuration.
#   awk -v partition=P -v model=M -v selector=fastest|slowest|FLAG_SET -f select-profile.awk manifest.tsv
# fastest/slowest: the configuration (flag set and threads) with the highest/lowest mean
# tok/s; a flag-set name: that flag set at its fastest thread count.
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
    mean = sum[key] / count[key]
    split(key, part, FS)
    if (selector == "fastest" || selector == "slowest") {
      better = (selector == "fastest") ? mean > best : mean < best
    } else {
      if (part[1] != selector) continue
      better = mean > best
    }
    if (chosen == "" || better) { chosen = key; best = mean }
  }
  if (chosen == "") exit 1
  printf "%s\t%.3f\n", chosen, best
}
