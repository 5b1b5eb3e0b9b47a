# AID, 20 % of each class for training, 80 % for testing (seed 0): the
# protocol of aid.py under its explicit name.
_base_ = './aid.py'
