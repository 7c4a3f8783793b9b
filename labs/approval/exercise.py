"""Exercise 04 - a budget a human can change while the agent waits, with validation.

`BudgetApproval` waits for an `approve` signal. Add the `set_budget` update: it returns the new
budget, and its validator refuses a budget that is not positive or is above 10,000 (so a refused
change never reaches the workflow or its history). Replace the `todo(...)`s, save, then run the
check cell in notebook 04.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from lab_support.exercises import todo

MAX_BUDGET = 10_000


@workflow.defn(name="BudgetApproval")
class BudgetApproval:
    def __init__(self) -> None:
        self.budget = 100
        self.approved = False

    @workflow.signal
    def approve(self) -> None:
        self.approved = True

    @workflow.query
    def current_budget(self) -> int:
        return self.budget

    @workflow.update
    def set_budget(self, amount: int) -> int:
        # TODO 1: store the new budget and return it.
        return todo("store and return the budget")

    @set_budget.validator
    def check_budget(self, amount: int) -> None:
        # TODO 2: raise ValueError (with a message for the human) if amount <= 0 or amount > MAX_BUDGET.
        todo("validate the amount")

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.approved)
        return f"approved with a budget of {self.budget}"
