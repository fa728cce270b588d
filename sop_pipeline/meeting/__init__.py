"""What the S&OP meeting does with a published plan: adopt a scenario, export the planner's workbook."""
