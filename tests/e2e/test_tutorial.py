"""Runs docs/tutorial.md: every `$ command` of its console blocks, against a fresh meterd, and
compares the output with the text shown ("..." matches anything)."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import METERD_BIN, Meterd, main

TUTORIAL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../docs/tutorial.md")


def steps(text):
    """(command, expected output lines) of each `$ ` line in ```console blocks."""
    out = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                out.append((line[2:], []))
            elif out:
                out[-1][1].append(line)
    return out


def matches(expected, actual):
    pattern = "^" + ".*".join(re.escape(part) for part in expected.split("...")) + "$"
    return re.match(pattern, actual, re.S) is not None


class TutorialTest(unittest.TestCase):
    def test_tutorial_commands(self):
        with open(TUTORIAL) as f:
            all_steps = steps(f.read())
        self.assertGreater(len(all_steps), 10)
        work = tempfile.mkdtemp(prefix="meterd-tutorial-")
        os.makedirs(os.path.join(work, "data"))
        self.addCleanup(shutil.rmtree, work, True)
        with Meterd(data_dir=os.path.join(work, "data")) as m:
            env = dict(os.environ, METERD="http://127.0.0.1:%d" % m.port,
                       PATH=os.path.dirname(METERD_BIN) + os.pathsep + os.environ["PATH"])
            for command, expected in all_steps:
                run = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True,
                                     timeout=60)
                actual = run.stdout.rstrip("\n")
                self.assertTrue(matches("\n".join(expected), actual),
                                "\n$ %s\nexpected:\n%s\nactual:\n%s\n%s" % (command, "\n".join(expected), actual,
                                                                            run.stderr))


if __name__ == "__main__":
    main()
