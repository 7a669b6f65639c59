"""`parcours`: the command line of officers, supervisors and operators."""
