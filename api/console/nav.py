"""Each role's menu: (path, label) in order. A new page adds its entry here with ``add``.

Labels are Chinese msgids marked with ``N_`` (the English catalog translates them where
the base template shows them)."""

from __future__ import annotations

from api.console.i18n import N_

NAV: dict[str, list[tuple[str, str]]] = {
    "officer": [
        ("/console/officer", N_("工作台")),
        ("/console/officer/members", N_("会员查询")),
        ("/console/officer/enrollments/import", N_("参保名单导入")),
        ("/console/officer/hardship", N_("困难职工登记")),
        ("/console/officer/review", N_("待审核")),
        ("/console/reports", N_("统计报表")),
    ],
    "hospital": [
        ("/console/hospital", N_("结算单")),
        ("/console/hospital/settlements/new", N_("上传结算单")),
        ("/console/hospital/desk", N_("出院结算")),
        ("/console/hospital/reconciliation", N_("当日对账")),
    ],
    "admin": [
        ("/console/admin", N_("方案版本")),
        ("/console/admin/users", N_("用户")),
        ("/console/admin/keys", N_("接口密钥")),
        ("/console/reports", N_("统计报表")),
    ],
    "member": [
        ("/console/member", N_("我的申请")),
        ("/console/member/benefits", N_("剩余待遇")),
        ("/console/member/payments", N_("支付通知")),
    ],
    "finance": [
        ("/console/finance", N_("财务首页")),
        ("/console/finance/allocations", N_("资金拨入")),
        ("/console/finance/runs", N_("支付批次")),
        ("/console/finance/statements", N_("基金报表")),
        ("/console/reports", N_("统计报表")),
    ],
}


def add(role: str, path: str, label: str) -> None:
    """Put a page in a role's menu (label: a Chinese msgid marked with ``N_``)."""
    NAV.setdefault(role, []).append((path, label))


def nav_for(role: str) -> list[tuple[str, str]]:
    return NAV.get(role, [])
