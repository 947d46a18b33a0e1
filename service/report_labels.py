"""Every label of the federation report, Chinese first, English beside: one catalog.

Tables, columns, categories, sources, benefits, hospital grades and stages are named
here and nowhere else; ``service.reports`` builds tables from keys of this catalog
and each format (JSON, CSV, Excel, HTML) prints the labels it finds here.
"""

from __future__ import annotations

from typing import NamedTuple


class Label(NamedTuple):
    zh: str
    en: str


REPORT = Label("工会困难职工帮扶与职工医疗互助保障统计报表", "Federation report: hardship relief and worker medical mutual aid")
TOTAL = Label("合计", "Total")
OWN_MEMBERS = Label("本级", "This union itself")
PERIOD = Label("统计期间", "Period")
UNION = Label("工会", "Union")

TABLES: dict[str, Label] = {
    "summary": Label("主要指标", "Headline figures"),
    "hardship_register": Label("困难职工档案（按类别）", "Hardship register by category"),
    "hardship_by_union": Label("困难职工档案（按下级工会）", "Hardship register by union beneath"),
    "relief_by_category": Label("大病救助（按困难类别）", "Critical-illness relief by hardship category"),
    "relief_by_source": Label("大病救助资金（按来源）", "Critical-illness relief by source of funds"),
    "relief_by_union": Label("大病救助（按下级工会）", "Critical-illness relief by union beneath"),
    "mutual_aid_by_union": Label("职工医疗互助（按下级工会）", "Mutual aid by union beneath"),
    "payouts_by_benefit": Label("给付（按保障项目）", "Payouts by benefit"),
    "payouts_by_disease": Label("给付（按大病病种）", "Payouts by disease (21-disease catalog)"),
    "payouts_by_month": Label("给付（按月份）", "Payouts by month"),
    "payouts_by_grade": Label("给付（按医院等级）", "Payouts by hospital grade"),
    "processing_times": Label("办理时限（天）", "Processing times (days)"),
    "fund_statements": Label("资金收支（按来源）", "Fund statements by source"),
}

COLUMNS: dict[str, Label] = {
    "figure": Label("指标", "Figure"),
    "value": Label("数值", "Value"),
    "union": Label("工会", "Union"),
    "level": Label("层级", "Level"),
    "category": Label("困难类别", "Hardship category"),
    "households": Label("户数", "Households"),
    "share": Label("占比（%）", "Share (%)"),
    "verified": Label("已入户核查", "Verified by home visit"),
    "households_helped": Label("救助户数", "Households helped"),
    "relief_paid": Label("救助金额（元）", "Relief paid (yuan)"),
    "source": Label("资金来源", "Source of funds"),
    "league": Label("盟市", "League or city"),
    "central": Label("中央专项（元）", "Central (yuan)"),
    "region": Label("自治区专项（元）", "Region (yuan)"),
    "league_funds": Label("盟市筹集（元）", "League or city (yuan)"),
    "charity": Label("慈善救助（元）", "Charity (yuan)"),
    "members_enrolled": Label("参保职工人数", "Members enrolled"),
    "member_periods": Label("参保人期", "Member-periods"),
    "contributions": Label("互助金收入（元）", "Contributions (yuan)"),
    "claims": Label("受理申请件数", "Claims received"),
    "payouts": Label("给付人次", "Payouts"),
    "paid": Label("给付金额（元）", "Amount paid (yuan)"),
    "average_payout": Label("人均给付（元）", "Average payout (yuan)"),
    "largest_payout": Label("最高给付（元）", "Largest payout (yuan)"),
    "loss_ratio": Label("赔付率（%）", "Loss ratio (payouts ÷ contributions, %)"),
    "benefit": Label("保障项目", "Benefit"),
    "disease": Label("病种", "Disease"),
    "disease_code": Label("病种编码", "Disease code"),
    "cir_payouts": Label("大病救助人次", "Relief payouts"),
    "cir_paid": Label("大病救助金额（元）", "Relief paid (yuan)"),
    "ci_payouts": Label("重疾互助人次", "Critical-illness grants"),
    "ci_paid": Label("重疾互助金额（元）", "Critical-illness grants paid (yuan)"),
    "month": Label("月份", "Month"),
    "grade": Label("医院等级", "Hospital grade"),
    "stage": Label("环节", "Stage"),
    "median_days": Label("中位数（天）", "Median (days)"),
    "p90_days": Label("第90百分位（天）", "90th percentile (days)"),
    "received": Label("收入（元）", "Received (yuan)"),
    "charged": Label("支出（元）", "Charged (yuan)"),
    "balance": Label("结余（元）", "Balance (yuan)"),
}

CATEGORIES: dict[str, Label] = {
    "dibao": Label("低保户", "Minimum-living-allowance household"),
    "dibao_unenrolled": Label("应保未保户", "Eligible for the allowance but not receiving it"),
    "near_dibao": Label("低保边缘户", "Household near the allowance line"),
    "accident": Label("意外致困户", "Household in hardship from an accident"),
    "": Label("未在档", "Not on the register"),
}

SOURCES: dict[str, Label] = {
    "mutual_aid": Label("互助保障金", "Mutual-aid pool"),
    "central": Label("中央财政专项帮扶资金", "Central special assistance funds"),
    "region": Label("自治区财政专项帮扶资金", "Regional special funds"),
    "league": Label("盟市工会筹集资金", "Funds raised by the league or city union"),
    "charity": Label("慈善总会大病医疗慈善救助", "Charity federation programme"),
    "contributions": Label("职工互助金", "Member contributions"),
    "union_subsidy": Label("工会补贴", "Union subsidy"),
}

BENEFITS: dict[str, Label] = {
    "MA_IP": Label("住院及门诊特殊病互助金", "Inpatient and special-outpatient mutual aid"),
    "MA_DA": Label("住院补贴", "Daily inpatient allowance"),
    "MA_CI": Label("重大疾病互助金", "One-off critical-illness grant"),
    "CIR": Label("困难职工21种大病医疗救助", "21-disease critical-illness relief"),
}

GRADES: dict[str, Label] = {
    "01": Label("三级特等", "Tertiary, special"), "02": Label("三级甲等", "Tertiary A"),
    "03": Label("三级乙等", "Tertiary B"), "04": Label("三级丙等", "Tertiary C"),
    "05": Label("二级甲等", "Secondary A"), "06": Label("二级乙等", "Secondary B"),
    "07": Label("二级丙等", "Secondary C"), "08": Label("一级甲等", "Primary A"),
    "09": Label("一级乙等", "Primary B"), "10": Label("一级丙等", "Primary C"),
    "11": Label("无等级", "No grade"),
}

LEVELS: dict[str, Label] = {
    "region": Label("自治区总工会", "Regional federation"),
    "league": Label("盟市总工会", "League or city union"),
    "county": Label("旗县（市）总工会", "Banner or county union"),
    "grassroots": Label("基层工会", "Grassroots union"),
}

STAGES: dict[str, Label] = {
    "received_decided": Label("受理→审核决定", "Received → decided"),
    "decided_paid": Label("审核决定→支付", "Decided → paid"),
    "received_paid": Label("受理→支付", "Received → paid"),
}

NOT_IN_CATALOG = Label("目录外病种", "Not in the catalog")

# The headline figures of the summary table.
FIGURES: dict[str, Label] = {
    "households": Label("在档困难职工户数", "Households on the hardship register"),
    "verified": Label("已入户核查户数", "Households verified by home visit"),
    "households_helped": Label("大病救助户数", "Households helped with critical-illness relief"),
    "relief_paid": Label("大病救助金额（元）", "Critical-illness relief paid (yuan)"),
    "members_enrolled": Label("参保职工人数", "Members enrolled"),
    "member_periods": Label("参保人期", "Member-periods"),
    "contributions": Label("互助金收入（元）", "Mutual-aid contributions (yuan)"),
    "claims": Label("受理申请件数", "Claims received"),
    "mutual_aid_payouts": Label("互助金给付人次", "Mutual-aid payouts"),
    "mutual_aid_paid": Label("互助金给付金额（元）", "Mutual aid paid (yuan)"),
    "average_payout": Label("互助金人均给付（元）", "Average mutual-aid payout (yuan)"),
    "largest_payout": Label("互助金最高给付（元）", "Largest mutual-aid payout (yuan)"),
    "loss_ratio": Label("互助金赔付率（%）", "Mutual-aid loss ratio (payouts ÷ contributions, %)"),
    "allocations": Label("救助资金拨入（元）", "Relief allocations received (yuan)"),
}


def label(table: dict[str, Label], key: str) -> Label:
    """A key's label, or the key itself in both languages (a code the catalog does not know yet)."""
    return table.get(key) or Label(key, key)
