"""A command run in this process that must be refused: exit 2 and one error line on stderr (`refused`)."""
from latentcore.cli import main
from latentcore.errors import MAX_LINE


def refused(argv, capsys, needle):
    """Runs the command: exit 2, one line naming `needle`, no traceback; returns the line."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit:  # argparse refuses a bad option value itself
        code = exit.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and len(lines[0]) <= MAX_LINE + 100 and lines[0].startswith("error: "), err
    assert needle in lines[0] and "Traceback" not in err, err
    return lines[0]
