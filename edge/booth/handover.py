"""The shift report and handover record (交接班记录) printed at the booth on the ESC/POS printer.

What the outgoing collector signs and leaves for the next one: vehicles by class and outcome, takings by method,
free and special vehicles, manual opens, abnormal events, barrier cycles against transactions, the cash and card
figures with their differences, and the handover note.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from drivers.escpos.commands import Align, EscPos, Mode
from edge.booth.report import ShiftReport
from parking.money import format_amount

OUTCOME_LABELS = {
    "paid": "缴费", "lost_card": "遗失卡", "pass": "月租车", "free": "免费车", "special": "特殊车",
    "manual_open": "手动开闸", "nothing_due": "免费时段",
}  # fmt: skip
CLASS_LABELS = {"small": "小型车", "large": "大型车", "new_energy": "新能源", "unknown": "未识别"}
METHOD_LABELS = {"cash": "现金", "epay": "电子支付", "bank_card": "银行卡"}


def _local(text: str, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(text).astimezone(zone).strftime("%m-%d %H:%M")


def handover_escpos(
    report: ShiftReport, *, zone: ZoneInfo, car_park_name: str | None = None, columns: int = 32
) -> bytes:
    """The shift report with the handover note, for an ESC/POS printer."""

    def money(minor: int) -> str:
        return format_amount(minor, report.currency)

    job = EscPos(columns=columns).init().align(Align.CENTER).size(2, 2).line("交接班记录").size()
    job.line(car_park_name or report.car_park).align(Align.LEFT)
    job.line(f"岗亭 {report.booth}  收费员 {report.operator}")
    job.line(f"{_local(report.opened_at, zone)} 至 {_local(report.closed_at, zone)}")
    if report.revision > 1:
        job.line(f"第{report.revision}版 (主管重开)")
    job.rule()
    for vehicle_class, outcomes in report.vehicles.items():
        for outcome, count in outcomes.items():
            label = f"{CLASS_LABELS.get(vehicle_class, vehicle_class)} {OUTCOME_LABELS.get(outcome, outcome)}"
            job.columns_line(label, str(count))
    job.columns_line("车辆合计", str(report.vehicles_total)).rule()
    for method, total in report.by_method.items():
        job.columns_line(f"{METHOD_LABELS.get(method, method)} ×{total.count}", money(total.amount))
    job.columns_line("收费合计", money(report.takings))
    if report.reversals:
        job.columns_line(f"撤销 ×{report.reversals}", money(report.reversed_amount))
    job.rule()
    for list_kind, categories in report.waivers.items():
        for category, count in categories.items():
            job.columns_line(f"{OUTCOME_LABELS.get(list_kind, list_kind)} {category}", str(count))
    for list_kind, categories in report.free_passes.items():  # let through by the lanes, without the booth
        for category, count in categories.items():
            job.columns_line(f"自动放行 {OUTCOME_LABELS.get(list_kind, list_kind)} {category}", str(count))
    job.columns_line("手动开闸", str(len(report.manual_opens)))
    for manual in report.manual_opens:
        job.line(f" {_local(manual.at, zone)} {manual.reason}")
    job.columns_line("异常事件", str(report.abnormal_events))
    job.columns_line("道闸起落/交易", f"{report.barrier_cycles}/{report.transactions}").rule()
    cash = report.cash
    for label, amount in (
        ("备用金", cash.float_amount), ("现金实收", cash.taken), ("投包", cash.drops), ("应有现金", cash.expected),
        ("清点现金", cash.counted_amount),
    ):  # fmt: skip
        job.columns_line(label, money(amount))
    if cash.difference:
        job.mode(Mode.BOLD).columns_line("短款" if cash.difference < 0 else "长款", money(cash.difference)).mode()
    cards = report.cards
    job.columns_line("临时卡 应有/实有", f"{cards.expected_on_hand}/{cards.counted_on_hand}")
    job.columns_line("收回卡 记录/清点", f"{cards.collected}/{cards.collected_counted}").rule()
    job.line("交接说明:").line(report.handover_note or "无").feed(1)
    job.line("交班人(签字):").feed(1).line("接班人(签字):").feed(1)
    return job.cut().build()
