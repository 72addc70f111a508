import json

from archsim.cli import main


def test_pim_gemv(capsys):
    rc = main(["pim-gemv", "gddr6-aim", "--rows", "4096", "--cols", "4096", "--json"])
    d = json.loads(capsys.readouterr().out)
    assert rc == 0
    for k in ("cycles", "time_ns", "energy_pj", "commands", "utilization"):
        assert k in d
    assert 0 < d["utilization"] <= 1 and d["commands"]["MACAB"] > 0
    rc = main(["pim-gemv", "hbm3-attacc", "--rows", "64", "--cols", "1024"])
    assert rc == 0 and "utilization" in capsys.readouterr().out
