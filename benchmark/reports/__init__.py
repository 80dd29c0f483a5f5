"""Everything that turns result files into what people read, as pure functions of those files.

- runs.py: load result files and select exactly the runs a report claims (one filter for every report);
- stats.py: cells and aggregate statistics that do not overstate (sample std, bootstrap intervals, IQM,
  optimality gap, probability of improvement, performance profiles over complete task x seed matrices);
- tables.py: results/table.md, and `write_report`, which writes every report;
- table2.py and paper_numbers.py: the papers' main table beside ours, with each published column's protocol;
- claims.py: results/claims.md, one verdict per claim of the papers;
- curves.py: learning curves from the evaluations every result file stores;
- performance_profiles.py: rliable's performance profiles for methods with complete task x seed matrices.
"""
