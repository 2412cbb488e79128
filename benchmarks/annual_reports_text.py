"""The words of the synthetic annual reports (benchmarks/annual_reports.py): industries, statement rows, the
questions that can be asked of each statement, and prose that, like a real filing's, says "we" rather than the
company's name and reads alike across companies of one industry."""

from __future__ import annotations

import random

INDUSTRIES: dict[str, dict[str, list[str]]] = {
    "wind": {
        "segments": ["Onshore Wind", "Offshore Wind", "Service and Maintenance"],
        "product": ["wind turbines", "turbine blades", "nacelles and drivetrains", "grid connection equipment"],
        "customers": ["utilities", "independent power producers", "project developers"],
        "input": ["steel", "copper", "rare-earth magnets", "carbon fibre"],
    },
    "chemicals": {
        "segments": ["Coatings", "Adhesives", "Performance Additives"],
        "product": ["specialty coatings", "industrial adhesives", "performance additives", "resins"],
        "customers": ["automotive manufacturers", "construction firms", "packaging converters"],
        "input": ["natural gas", "propylene", "titanium dioxide", "solvents"],
    },
    "freight": {
        "segments": ["Truckload", "Intermodal", "Warehousing"],
        "product": ["truckload services", "intermodal transport", "contract warehousing", "freight brokerage"],
        "customers": ["retailers", "manufacturers", "e-commerce shippers"],
        "input": ["diesel fuel", "tractors and trailers", "driver wages", "rail capacity"],
    },
    "food": {
        "segments": ["Packaged Foods", "Fresh", "Foodservice"],
        "product": ["packaged foods", "fresh produce", "dairy products", "prepared meals"],
        "customers": ["grocery chains", "restaurants", "institutional buyers"],
        "input": ["grain", "packaging materials", "dairy", "energy"],
    },
}

FISCAL_YEAR_END = {"wind": "December 31", "chemicals": "September 30", "freight": "December 31", "food": "June 30"}

# Rows of each statement, as share of the year's revenue (every company uses the same row labels).
ROW_SHARES = {
    "Revenue": 1.0,
    "Cost of revenue": 0.64,
    "Gross profit": 0.36,
    "Research and development": 0.045,
    "Selling, general and administrative": 0.14,
    "Operating income": 0.16,
    "Interest expense, net": 0.012,
    "Income before income taxes": 0.148,
    "Provision for income taxes": 0.033,
    "Net income": 0.115,
    "Cash and cash equivalents": 0.12,
    "Accounts receivable, net": 0.17,
    "Inventories": 0.15,
    "Total current assets": 0.48,
    "Property, plant and equipment, net": 0.55,
    "Goodwill": 0.21,
    "Total assets": 1.35,
    "Accounts payable": 0.11,
    "Long-term debt": 0.31,
    "Total liabilities": 0.72,
    "Total shareholders' equity": 0.63,
    "Depreciation and amortization": 0.052,
    "Net cash provided by operating activities": 0.19,
    "Capital expenditures": 0.075,
    "Acquisitions, net of cash acquired": 0.031,
    "Net cash used in investing activities": 0.098,
    "Dividends paid": 0.037,
    "Repurchases of common stock": 0.044,
    "Net cash used in financing activities": 0.066,
}
STATEMENTS = {
    "income": ["Revenue", "Cost of revenue", "Gross profit", "Research and development",
               "Selling, general and administrative", "Operating income", "Interest expense, net",
               "Income before income taxes", "Provision for income taxes", "Net income"],
    "balance": ["Cash and cash equivalents", "Accounts receivable, net", "Inventories", "Total current assets",
                "Property, plant and equipment, net", "Goodwill", "Total assets", "Accounts payable",
                "Long-term debt", "Total liabilities", "Total shareholders' equity"],
    "cashflow": ["Net income", "Depreciation and amortization", "Net cash provided by operating activities",
                 "Capital expenditures", "Acquisitions, net of cash acquired",
                 "Net cash used in investing activities", "Dividends paid", "Repurchases of common stock",
                 "Net cash used in financing activities"],
}  # fmt: skip
OUTFLOWS = {  # printed in parentheses, as cash-flow statements do
    "Capital expenditures", "Acquisitions, net of cash acquired", "Net cash used in investing activities",
    "Dividends paid", "Repurchases of common stock", "Net cash used in financing activities",
}  # fmt: skip
TITLES = {
    "segments": "Segment Information",
    "income": "Consolidated Statements of Operations",
    "balance": "Consolidated Balance Sheets",
    "cashflow": "Consolidated Statements of Cash Flows",
}

_ASK = {
    "Revenue": [
        "What was {co}'s total revenue in fiscal {y}?",
        "How much revenue did {co} report for fiscal year {y}?",
    ],
    "Research and development": ["How much did {co} spend on research and development in fiscal {y}?"],
    "Operating income": ["What was {co}'s operating income for fiscal {y}?"],
    "Net income": ["What was {co}'s net income in fiscal year {y}?", "How much did {co} earn (net income) in {y}?"],
    "Selling, general and administrative": ["What were {co}'s SG&A expenses in fiscal {y}?"],
    "Cash and cash equivalents": ["How much cash and cash equivalents did {co} hold at the end of fiscal {y}?"],
    "Inventories": ["What was the value of {co}'s inventories at fiscal year-end {y}?"],
    "Total assets": ["What were {co}'s total assets at the end of fiscal {y}?"],
    "Long-term debt": ["How much long-term debt did {co} carry at the end of fiscal {y}?"],
    "Capital expenditures": [
        "What were {co}'s capital expenditures in fiscal {y}?",
        "How much did {co} spend on capital expenditures in fiscal year {y}?",
        "What was {co}'s FY{y} capital expenditure?",
    ],
    "Net cash provided by operating activities": ["What was {co}'s operating cash flow in fiscal {y}?"],
    "Dividends paid": ["How much did {co} pay in dividends in fiscal {y}?"],
    "Depreciation and amortization": ["What was {co}'s depreciation and amortization in fiscal {y}?"],
}
_ASK_SEGMENT = {
    "segment": ["What revenue did {co}'s {segment} segment report in fiscal {y}?",
                "How much revenue came from {co}'s {segment} segment in {y}?"],
    "segment-oi": ["What was the operating income of {co}'s {segment} segment in fiscal {y}?"],
}  # fmt: skip


def askable(statement: str, industry: str) -> list[tuple[str, list[str]]]:
    """(figure key, question templates) for the figures a question may ask of ``statement``; capital expenditures
    weighted up, since it is the motivating question."""
    if statement == "segments":
        return [(f"{kind}:{seg}", t) for kind, t in _ASK_SEGMENT.items() for seg in INDUSTRIES[industry]["segments"]]
    keys = [k for k in STATEMENTS[statement] if k in _ASK]
    return [(k, _ASK[k]) for k in keys] + ([("Capital expenditures", _ASK["Capital expenditures"])] * 2 * (
        "Capital expenditures" in keys))  # fmt: skip


MEANINGLESS_NAMES = [
    "AR-{year}-final.pdf", "report_{n}.pdf", "annual-report-{year}.pdf", "10-K_{year}.pdf", "download_{n}.pdf",
    "AR{year}_web.pdf", "doc{n}.pdf", "form10k_{n}.pdf", "ir_report_{year}_{n}.pdf", "AnnualReport_{n}.pdf",
]  # fmt: skip

_SECTIONS = {
    "Business": [
        "We operate through three reportable segments, each managed separately because each requires different "
        "technology and marketing strategies.",
        "Our principal products are {product}, sold primarily to {customers}.",
        "We compete on the basis of price, quality, delivery times and the breadth of our service offering.",
        "Demand for {product} depends on investment cycles among {customers}.",
        "We hold a portfolio of patents and trade secrets, none of which is individually material.",
        "Our order backlog at year end was higher than a year earlier, driven by larger multi-year agreements.",
        "Sales are made through our own sales force and, in some regions, through distributors.",
        "Our largest customer accounted for less than {pct} percent of consolidated revenue.",
        "Seasonality affects our quarterly results, with the fourth quarter typically the strongest.",
        "We source {input} from several suppliers and maintain safety stock for critical components.",
    ],
    "Risk Factors": [
        "Volatility in the price of {input} could reduce our margins if we cannot pass costs on to customers.",
        "A significant share of our revenue comes from a limited number of {customers}.",
        "Changes in tax laws or trade policy could adversely affect our results of operations.",
        "We may not realize the expected benefits of acquisitions, and integration may divert management attention.",
        "Cyber incidents could disrupt our operations or expose confidential information.",
        "Our indebtedness could limit our flexibility in planning for changes in our business.",
        "Failure to attract and retain skilled employees could impair our ability to execute our strategy.",
        "Product defects or warranty claims could result in significant costs and damage our reputation.",
        "Fluctuations in foreign currency exchange rates affect our reported revenue and earnings.",
        "Severe weather and climate-related events could disrupt our facilities and supply chain.",
        "Compliance with environmental regulations requires ongoing capital spending.",
        "Increases in interest rates would raise the cost of our variable-rate borrowings.",
    ],
    "Management's Discussion and Analysis": [
        "Revenue increased {pct} percent compared with the prior year, reflecting higher volumes and pricing.",
        "Gross margin declined by {pct2} percentage points as costs of {input} rose faster than prices.",
        "Operating expenses grew more slowly than revenue as we benefited from restructuring actions.",
        "Capital expenditures increased as we expanded capacity and modernized existing facilities.",
        "We expect capital expenditures next year to be broadly in line with depreciation.",
        "Cash provided by operating activities funded our investment program, dividends and share repurchases.",
        "Research and development spending focused on next-generation {product}.",
        "Our effective tax rate was lower than the statutory rate due to credits and the mix of earnings.",
        "Liquidity remained strong, with an undrawn revolving credit facility and cash on hand.",
        "Working capital increased because of higher inventories of {input} held ahead of price increases.",
        "Segment operating income improved in two of our three segments.",
        "We refinanced a portion of our long-term debt at a lower fixed rate during the year.",
    ],
    "Properties and Employees": [
        "Our headquarters are leased, and our principal manufacturing and distribution sites are owned.",
        "We believe our facilities are suitable and adequate for our current needs.",
        "At year end we employed approximately {n} people, of whom about {pct} percent were outside the United States.",
        "Some of our employees are covered by collective bargaining agreements.",
        "Employee turnover was lower than in the prior year, and engagement survey scores improved.",
        "We invest in safety training, and our recordable incident rate declined for the third consecutive year.",
        "We operate distribution centres close to our main {customers}.",
    ],
    "Controls and Procedures": [
        "Management evaluated the effectiveness of our disclosure controls and procedures as of the end of the year.",
        "Based on that evaluation, our principal executive and financial officers concluded they were effective.",
        "There were no changes in internal control over financial reporting that materially affected it.",
        "Our independent registered public accounting firm has issued an attestation report on internal control.",
        "The exhibits listed in the accompanying index are filed as part of this annual report.",
        "Certain schedules are omitted because they are not required or the information is shown in the notes.",
    ],
}
PROSE_SECTIONS = list(_SECTIONS)


def paragraphs(section: str, industry: str, rng: random.Random, n_sentences: int) -> list[str]:
    """Up to ``n_sentences`` of ``section`` (none twice) in paragraphs of 3-5, with ``industry``'s nouns filled in."""
    nouns = INDUSTRIES[industry]
    pool = rng.sample(_SECTIONS[section], min(n_sentences, len(_SECTIONS[section])))
    filled = [
        s.format(
            product=rng.choice(nouns["product"]),
            customers=rng.choice(nouns["customers"]),
            input=rng.choice(nouns["input"]),
            pct=rng.randint(3, 18),
            pct2=rng.randint(1, 4),
            n=f"{rng.randint(12, 95) * 100:,}",
        )
        for s in pool
    ]
    out, i = [], 0
    while i < len(filled):
        size = rng.randint(3, 5)
        out.append(" ".join(filled[i : i + size]))
        i += size
    return out
