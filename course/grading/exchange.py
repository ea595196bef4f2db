"""A collect step that refuses a submission handed in under another student's name.

``nbgrader submit --student NAME`` names a submission after anyone, and nbgrader's collect, when the
Unix owner of the submitted folder differs, only warns ("cheating attempt?") and collects it anyway:
the newest submission wins, so a student could replace a classmate's work. On a JupyterHub, where every
student is a Unix account, ``OwnerCheckedCollect`` drops such a submission instead: the classmate's
own latest submission is collected, and the log names the impostor. The hub's instructor config sets
``c.ExchangeFactory.collect = "course.grading.exchange.OwnerCheckedCollect"`` (deploy/jupyterhub/);
on a single machine, where one user plays every role, nbgrader's own collect stays.
"""

import os
import pwd

from nbgrader.exchange.default.collect import ExchangeCollect


def _owner(path):
    try:
        return pwd.getpwuid(os.stat(path).st_uid).pw_name
    except (KeyError, OSError):
        return None


class OwnerCheckedCollect(ExchangeCollect):
    def _path_to_record(self, path):
        record = super()._path_to_record(path)
        record["owner"] = _owner(path)
        return record

    def _sort_by_timestamp(self, records):
        genuine = [r for r in records if r.get("owner") == r["username"]]
        if genuine:
            for record in records:
                if record not in genuine:
                    self._refuse(record)
        return sorted(genuine or records, key=lambda item: item["timestamp"], reverse=True)

    def _refuse(self, record):
        self.log.warning("REFUSED %s: submitted as %s by the Unix user %s (not collected)",
                         record["filename"], record["username"], record.get("owner"))

    def copy_files(self):
        refused = [r for r in self.src_records if r.get("owner") != r["username"]]
        for record in refused:
            self._refuse(record)
        self.src_records = [r for r in self.src_records if r not in refused]
        super().copy_files()
