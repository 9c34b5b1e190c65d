"""The career record's rules (docs/domain.md §4): a year's quarters and points (``rights``), the legal age, the
full-rate date and the pension estimate with its what-ifs (``retirement``), every figure from the data files of
``parameters/career/`` (``parameters``). No nameko, no database."""
