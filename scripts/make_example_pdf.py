"""Generate the PDF page of the bundled example help center.

Writes ``examples/helpcenter/docs/legal/service-level-agreement.pdf`` for the
fictional product "Driftnest". Uses fpdf2 with core fonts only, so all text
must be latin-1 (plain quotes and hyphens, no curly quotes or em dashes).

Usage::

    pip install fpdf2
    python scripts/make_example_pdf.py [output_path]
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from fpdf import FPDF

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "examples" / "helpcenter" / "docs" / "legal" / "service-level-agreement.pdf"

TITLE = "Driftnest Service Level Agreement"

# Each block is (kind, payload). Kinds: h1, h2, p, bullets, table.
CONTENT: list[tuple[str, object]] = [
    ("h1", TITLE),
    ("p", "Version 3.2 - Effective 1 March 2025"),
    (
        "p",
        "We know your team depends on Driftnest being there when you need it. This Service "
        "Level Agreement (SLA) sets out the uptime we promise, the service credits you get if "
        "we fall short, and how quickly our support team responds. It forms part of your "
        "Driftnest subscription terms.",
    ),
    ("h2", "1. Who this SLA covers"),
    (
        "p",
        "This SLA applies to workspaces on the Business and Enterprise plans with an active, "
        "paid subscription. Workspaces on the Free and Team plans, and workspaces in a free "
        "trial, are not covered by the uptime commitment or service credits.",
    ),
    ("h2", "2. Uptime commitment"),
    (
        "p",
        "Driftnest will be available with a Monthly Uptime Percentage of at least 99.9% for "
        "Business workspaces and at least 99.95% for Enterprise workspaces in each calendar month.",
    ),
    (
        "p",
        "Monthly Uptime Percentage means the total number of minutes in the month, minus the "
        "minutes of Downtime, divided by the total number of minutes in the month. Downtime is "
        "any minute in which more than 5% of requests to the Driftnest web app, desktop sync "
        "service or API fail with a server error, as measured by our monitoring.",
    ),
    ("h2", "3. Service credits"),
    (
        "p",
        "If we miss the uptime commitment, you are eligible for a service credit, calculated as "
        "a percentage of the monthly fee for the affected workspace in the month the Downtime "
        "happened:",
    ),
    (
        "table",
        [
            ["Plan", "Monthly Uptime Percentage", "Service credit"],
            ["Business", "99.0% to below 99.9%", "10%"],
            ["Business", "95.0% to below 99.0%", "25%"],
            ["Business", "Below 95.0%", "50%"],
            ["Enterprise", "99.5% to below 99.95%", "10%"],
            ["Enterprise", "99.0% to below 99.5%", "25%"],
            ["Enterprise", "Below 99.0%", "50%"],
        ],
    ),
    (
        "p",
        "Service credits for a single month are capped at 50% of that month's fee. Credits are "
        "applied to your next invoice. They are not paid out as cash or refunds and cannot be "
        "transferred to another workspace. Unused credits expire if the subscription ends.",
    ),
    ("h2", "4. How to claim a credit"),
    (
        "bullets",
        [
            'Email billing@driftnest.example with the subject line "SLA credit request".',
            "Include your workspace URL and the dates and times (in UTC) of the Downtime you saw.",
            "Send your claim within 30 days after the end of the month in which the Downtime happened.",
            "Only the workspace Owner or an Admin with the Billing permission can make a claim.",
        ],
    ),
    (
        "p",
        "We confirm or decline each claim within 10 business days. Claims sent after the "
        "30-day window are not eligible.",
    ),
    ("h2", "5. What does not count as Downtime"),
    (
        "bullets",
        [
            "Scheduled maintenance announced at least 72 hours in advance on our status page. "
            "Scheduled maintenance happens on Sundays between 02:00 and 06:00 UTC and is limited "
            "to 4 hours per month. Maintenance beyond 4 hours in a month counts as Downtime.",
            "Problems caused by your own systems, networks or identity provider (for example an "
            "expired SSO certificate).",
            "Problems with the internet or third-party services outside our control.",
            "Features labelled as beta or preview.",
            "Suspension of a workspace for non-payment or for breaking our acceptable use policy.",
            "Events beyond our reasonable control (force majeure).",
        ],
    ),
    ("h2", "6. Support response targets"),
    (
        "p",
        "We aim to give a first response within the times below. Business hours are 08:00 to "
        "18:00, Monday to Friday, in the workspace's data region.",
    ),
    (
        "table",
        [
            ["Severity", "Example", "Business", "Enterprise"],
            ["Severity 1", "Driftnest is down for the whole workspace", "4 hours, 24/7", "1 hour, 24/7"],
            ["Severity 2", "A major feature is broken, no workaround", "8 business hours", "4 hours, 24/7"],
            ["Severity 3", "A minor feature is broken, workaround exists", "1 business day", "8 business hours"],
            ["Question", "How-to and account questions", "2 business days", "1 business day"],
        ],
    ),
    (
        "p",
        "For reference, Free workspaces are answered by email within 3 business days and Team "
        "workspaces within 1 business day. These targets are not covered by service credits.",
    ),
    ("h2", "7. Incident communication"),
    (
        "p",
        "We post every incident affecting more than one workspace on status.driftnest.example, "
        "with updates at least every 30 minutes until it is resolved. For Severity 1 incidents "
        "affecting Enterprise workspaces, we send a written post-incident report within 5 "
        "business days.",
    ),
    ("h2", "8. Disaster recovery"),
    (
        "table",
        [
            ["Measure", "Target"],
            ["Recovery point objective (RPO)", "1 hour"],
            ["Recovery time objective (RTO)", "4 hours"],
            ["Backup retention", "35 days"],
            ["Backup location", "Second data center in the same region"],
        ],
    ),
    ("h2", "9. Changes to this SLA"),
    (
        "p",
        "We may update this SLA from time to time. We will tell workspace Owners by email at "
        "least 30 days before a change that reduces your commitments takes effect. Enterprise "
        "customers with a signed agreement keep the SLA in their contract until renewal.",
    ),
    ("p", "Questions about this SLA? Write to us at help@driftnest.example. Happy nesting! - The Driftnest crew"),
]


class SlaPDF(FPDF):
    def header(self) -> None:
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(110, 100, 90)
        self.cell(0, 6, "Driftnest Help Center - Legal", align="R")
        self.ln(8)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "I", 8)
        self.set_text_color(110, 100, 90)
        self.cell(0, 10, f"{TITLE} - page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def _check_latin1(text: str) -> str:
    text.encode("latin-1")  # raises early with a clear error on curly quotes etc.
    return text


def build(out: Path) -> Path:
    pdf = SlaPDF(format="A4")
    pdf.set_title(TITLE)
    pdf.set_author("Driftnest")
    pdf.set_subject("Uptime commitment, service credits and support response targets")
    # A fixed date keeps the output byte-for-byte reproducible.
    pdf.set_creation_date(datetime(2025, 3, 1, tzinfo=timezone.utc))
    pdf.alias_nb_pages()
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.set_margins(20, 15, 20)
    pdf.add_page()

    for kind, payload in CONTENT:
        if kind == "h1":
            pdf.set_font("Helvetica", "B", 18)
            pdf.multi_cell(0, 9, _check_latin1(str(payload)), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif kind == "h2":
            pdf.ln(2)
            pdf.set_font("Helvetica", "B", 13)
            pdf.multi_cell(0, 7, _check_latin1(str(payload)), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif kind == "p":
            pdf.set_font("Helvetica", "", 10.5)
            pdf.multi_cell(0, 5.5, _check_latin1(str(payload)), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind == "bullets":
            pdf.set_font("Helvetica", "", 10.5)
            for item in payload:  # type: ignore[union-attr]
                pdf.set_x(pdf.l_margin + 4)
                pdf.multi_cell(0, 5.5, _check_latin1("- " + str(item)), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind == "table":
            rows = payload  # type: ignore[assignment]
            pdf.set_font("Helvetica", "", 9.5)
            with pdf.table(line_height=6, text_align="LEFT") as table:
                for i, row in enumerate(rows):  # type: ignore[arg-type]
                    r = table.row()
                    for cell in row:
                        if i == 0:
                            pdf.set_font("Helvetica", "B", 9.5)
                        r.cell(_check_latin1(str(cell)))
                    pdf.set_font("Helvetica", "", 9.5)
            pdf.ln(3)
        else:  # pragma: no cover - guard against typos in CONTENT
            raise ValueError(f"unknown block kind: {kind}")

    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    return out


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    path = build(out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
