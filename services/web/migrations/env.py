from services.kernel.migrations import run_env
from services.web.models import Base

run_env(Base.metadata)
