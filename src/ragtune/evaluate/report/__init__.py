"""The comparison report, rebuilt from a results folder: the summary read and formatted (:mod:`.format`), its rows
and readings, charts, the advice section, and the Markdown/HTML document (:mod:`.write`); the terminal table."""
