"""The texts of a remittance advice (汇款通知), Chinese first, English beside: one catalog.

The printable page is built from these and nothing else, so a wording is changed here
once, in both languages together.
"""

from __future__ import annotations

from claims.messages import Message

ADVICE: dict[str, Message] = {
    "title": Message("互助保障金支付通知", "Remittance advice"),
    "union_line": Message("职工医疗互助保障", "Workers' medical mutual aid"),
    "item": Message("支付编号", "Payment reference"),
    "run": Message("支付批次", "Payment run"),
    "member": Message("会员", "Member"),
    "payee": Message("收款人", "Payee"),
    "bank": Message("开户银行", "Bank"),
    "account": Message("银行账号", "Account"),
    "status": Message("支付状态", "Status"),
    "settled_on": Message("到账日期", "Settled on"),
    "bank_ref": Message("银行流水号", "Bank reference"),
    "claim": Message("申请", "Claim"),
    "hospital": Message("医疗机构", "Hospital"),
    "stay": Message("住院日期", "Stay"),
    "benefit": Message("保障项目", "Benefit"),
    "amount": Message("金额（元）", "Amount (yuan)"),
    "reasons": Message("说明", "Reasons"),
    "gross": Message("应付合计", "Total due"),
    "netted": Message("抵扣应退款", "Recoveries netted"),
    "paid": Message("实付金额", "Amount paid"),
    "print": Message("本通知可打印留存。", "Print this advice for your records."),
}

ITEM_STATUS: dict[str, Message] = {
    "pending": Message("待银行确认", "Awaiting the bank"),
    "paid": Message("已支付", "Paid"),
    "returned": Message("银行退回", "Returned by the bank"),
    "cancelled": Message("已撤销", "Cancelled"),
}
