# Copyright (c) sparse_backbones contributors. All rights reserved.
from .budget import BudgetLoss
from .ib import LTMIBLoss

__all__ = ['BudgetLoss', 'LTMIBLoss']
