"""Tables: columns classified and processed once, the whole table as tensors on the device,
an embedding network (`Learner.tabular`), the table predictor, and cross-validated training
beside LightGBM (`fastlearn.tabular.recipe`)."""
from fastlearn.tabular.columns import ColumnPlan, plan_columns
from fastlearn.tabular.data import TabularData, read_table
from fastlearn.tabular.model import TabularModel, embedding_size
from fastlearn.tabular.processor import TabularProcessor

__all__ = ["TabularData", "TabularModel", "TabularProcessor", "ColumnPlan", "plan_columns", "read_table",
           "embedding_size"]
