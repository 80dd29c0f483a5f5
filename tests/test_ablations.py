"""Ablation reports from hand-made result files: what they aggregate and how they name missing runs."""

from ablations.data_volume import main as data_volume
from tests.test_table2 import write_result


def test_data_volume_report_and_missing_runs(tmp_path, capsys):
    for seed, score in ((0, 40.0), (1, 50.0)):
        write_result(tmp_path / "runs", "hopper-medium-v2", "dawm-td3bc", seed, score)
    write_result(tmp_path / "runs", "hopper-medium-v2", "td3bc", 0, 30.0)
    out = tmp_path / "results" / "data_volume.md"
    assert data_volume(["--report-only", "--tasks", "hopper-medium-v2", "--results", str(tmp_path / "runs"),
                        "--out", str(out)]) == 0
    text = out.read_text()
    assert "| TD3+BC  | 8x                 | 45.0 ± 5.0 (2)     |" in text
    assert "| TD3+BC  | 0x (real only)     | 30.0 ± 0.0 (1)     |" in text
    assert "Missing (4): dawm-t-td3bc on hopper-medium-v2, iql on hopper-medium-v2" in text
    assert (out.parent / "figures" / "data_volume.png").stat().st_size > 0
