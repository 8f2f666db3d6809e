from proto.mobility.v1 import driver_pb2 as _driver_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AssignmentKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ASSIGNMENT_KIND_UNSPECIFIED: _ClassVar[AssignmentKind]
    ASSIGNMENT_KIND_OFFER: _ClassVar[AssignmentKind]
    ASSIGNMENT_KIND_REJECTION: _ClassVar[AssignmentKind]
    ASSIGNMENT_KIND_BOOKING: _ClassVar[AssignmentKind]
    ASSIGNMENT_KIND_ASSIGNMENT: _ClassVar[AssignmentKind]
    ASSIGNMENT_KIND_REASSIGNMENT: _ClassVar[AssignmentKind]
    ASSIGNMENT_KIND_CANCELLATION: _ClassVar[AssignmentKind]
    ASSIGNMENT_KIND_BOARDED: _ClassVar[AssignmentKind]
    ASSIGNMENT_KIND_COMPLETED: _ClassVar[AssignmentKind]
    ASSIGNMENT_KIND_NO_SHOW: _ClassVar[AssignmentKind]
    ASSIGNMENT_KIND_LATE: _ClassVar[AssignmentKind]
    ASSIGNMENT_KIND_EXPIRED: _ClassVar[AssignmentKind]
    ASSIGNMENT_KIND_SHIFT_ENDED: _ClassVar[AssignmentKind]
    ASSIGNMENT_KIND_SHIFT_STARTED: _ClassVar[AssignmentKind]
    ASSIGNMENT_KIND_SERVICE_DAY: _ClassVar[AssignmentKind]
    ASSIGNMENT_KIND_BATCH: _ClassVar[AssignmentKind]
ASSIGNMENT_KIND_UNSPECIFIED: AssignmentKind
ASSIGNMENT_KIND_OFFER: AssignmentKind
ASSIGNMENT_KIND_REJECTION: AssignmentKind
ASSIGNMENT_KIND_BOOKING: AssignmentKind
ASSIGNMENT_KIND_ASSIGNMENT: AssignmentKind
ASSIGNMENT_KIND_REASSIGNMENT: AssignmentKind
ASSIGNMENT_KIND_CANCELLATION: AssignmentKind
ASSIGNMENT_KIND_BOARDED: AssignmentKind
ASSIGNMENT_KIND_COMPLETED: AssignmentKind
ASSIGNMENT_KIND_NO_SHOW: AssignmentKind
ASSIGNMENT_KIND_LATE: AssignmentKind
ASSIGNMENT_KIND_EXPIRED: AssignmentKind
ASSIGNMENT_KIND_SHIFT_ENDED: AssignmentKind
ASSIGNMENT_KIND_SHIFT_STARTED: AssignmentKind
ASSIGNMENT_KIND_SERVICE_DAY: AssignmentKind
ASSIGNMENT_KIND_BATCH: AssignmentKind

class WatchAssignmentsRequest(_message.Message):
    __slots__ = ("after_event_id", "service")
    AFTER_EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    after_event_id: str
    service: str
    def __init__(self, after_event_id: _Optional[str] = ..., service: _Optional[str] = ...) -> None: ...

class AssignmentEvent(_message.Message):
    __slots__ = ("event_id", "kind", "time_s", "ride_id", "vehicle_id", "detail", "service")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    RIDE_ID_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    kind: AssignmentKind
    time_s: int
    ride_id: str
    vehicle_id: str
    detail: str
    service: str
    def __init__(self, event_id: _Optional[str] = ..., kind: _Optional[_Union[AssignmentKind, str]] = ..., time_s: _Optional[int] = ..., ride_id: _Optional[str] = ..., vehicle_id: _Optional[str] = ..., detail: _Optional[str] = ..., service: _Optional[str] = ...) -> None: ...

class ListVehiclesRequest(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: str
    def __init__(self, service: _Optional[str] = ...) -> None: ...

class ListVehiclesResponse(_message.Message):
    __slots__ = ("vehicles",)
    VEHICLES_FIELD_NUMBER: _ClassVar[int]
    vehicles: _containers.RepeatedCompositeFieldContainer[_driver_pb2.VehicleStatus]
    def __init__(self, vehicles: _Optional[_Iterable[_Union[_driver_pb2.VehicleStatus, _Mapping]]] = ...) -> None: ...

class FleetStatusRequest(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: str
    def __init__(self, service: _Optional[str] = ...) -> None: ...

class FleetStatusResponse(_message.Message):
    __slots__ = ("clock_s", "vehicles", "vehicles_on_shift", "rides_assigned", "rides_on_board", "rides_completed", "rides_cancelled", "rides_no_show", "requests_rejected", "riders_on_board", "mean_wait_s", "planned_vehicle_time_s", "rides_expired", "service_day", "service", "rides_matching", "pooled_share", "rides_rejected", "rides_matched", "last_batch_s", "last_batch_compute_s", "batches")
    CLOCK_S_FIELD_NUMBER: _ClassVar[int]
    VEHICLES_FIELD_NUMBER: _ClassVar[int]
    VEHICLES_ON_SHIFT_FIELD_NUMBER: _ClassVar[int]
    RIDES_ASSIGNED_FIELD_NUMBER: _ClassVar[int]
    RIDES_ON_BOARD_FIELD_NUMBER: _ClassVar[int]
    RIDES_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    RIDES_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    RIDES_NO_SHOW_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_REJECTED_FIELD_NUMBER: _ClassVar[int]
    RIDERS_ON_BOARD_FIELD_NUMBER: _ClassVar[int]
    MEAN_WAIT_S_FIELD_NUMBER: _ClassVar[int]
    PLANNED_VEHICLE_TIME_S_FIELD_NUMBER: _ClassVar[int]
    RIDES_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    SERVICE_DAY_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    RIDES_MATCHING_FIELD_NUMBER: _ClassVar[int]
    POOLED_SHARE_FIELD_NUMBER: _ClassVar[int]
    RIDES_REJECTED_FIELD_NUMBER: _ClassVar[int]
    RIDES_MATCHED_FIELD_NUMBER: _ClassVar[int]
    LAST_BATCH_S_FIELD_NUMBER: _ClassVar[int]
    LAST_BATCH_COMPUTE_S_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    clock_s: int
    vehicles: int
    vehicles_on_shift: int
    rides_assigned: int
    rides_on_board: int
    rides_completed: int
    rides_cancelled: int
    rides_no_show: int
    requests_rejected: int
    riders_on_board: int
    mean_wait_s: float
    planned_vehicle_time_s: float
    rides_expired: int
    service_day: str
    service: str
    rides_matching: int
    pooled_share: float
    rides_rejected: int
    rides_matched: int
    last_batch_s: int
    last_batch_compute_s: float
    batches: int
    def __init__(self, clock_s: _Optional[int] = ..., vehicles: _Optional[int] = ..., vehicles_on_shift: _Optional[int] = ..., rides_assigned: _Optional[int] = ..., rides_on_board: _Optional[int] = ..., rides_completed: _Optional[int] = ..., rides_cancelled: _Optional[int] = ..., rides_no_show: _Optional[int] = ..., requests_rejected: _Optional[int] = ..., riders_on_board: _Optional[int] = ..., mean_wait_s: _Optional[float] = ..., planned_vehicle_time_s: _Optional[float] = ..., rides_expired: _Optional[int] = ..., service_day: _Optional[str] = ..., service: _Optional[str] = ..., rides_matching: _Optional[int] = ..., pooled_share: _Optional[float] = ..., rides_rejected: _Optional[int] = ..., rides_matched: _Optional[int] = ..., last_batch_s: _Optional[int] = ..., last_batch_compute_s: _Optional[float] = ..., batches: _Optional[int] = ...) -> None: ...

class ReoptimiseRequest(_message.Message):
    __slots__ = ("iterations", "now_s")
    ITERATIONS_FIELD_NUMBER: _ClassVar[int]
    NOW_S_FIELD_NUMBER: _ClassVar[int]
    iterations: int
    now_s: int
    def __init__(self, iterations: _Optional[int] = ..., now_s: _Optional[int] = ...) -> None: ...

class ReoptimiseResponse(_message.Message):
    __slots__ = ("adopted", "cost_before", "cost_after", "moved_rides")
    ADOPTED_FIELD_NUMBER: _ClassVar[int]
    COST_BEFORE_FIELD_NUMBER: _ClassVar[int]
    COST_AFTER_FIELD_NUMBER: _ClassVar[int]
    MOVED_RIDES_FIELD_NUMBER: _ClassVar[int]
    adopted: bool
    cost_before: float
    cost_after: float
    moved_rides: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, adopted: bool = ..., cost_before: _Optional[float] = ..., cost_after: _Optional[float] = ..., moved_rides: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateTrafficRequest(_message.Message):
    __slots__ = ("edge_travel_time_s", "now_s")
    EDGE_TRAVEL_TIME_S_FIELD_NUMBER: _ClassVar[int]
    NOW_S_FIELD_NUMBER: _ClassVar[int]
    edge_travel_time_s: _containers.RepeatedScalarFieldContainer[float]
    now_s: int
    def __init__(self, edge_travel_time_s: _Optional[_Iterable[float]] = ..., now_s: _Optional[int] = ...) -> None: ...

class UpdateTrafficResponse(_message.Message):
    __slots__ = ("seconds",)
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    seconds: float
    def __init__(self, seconds: _Optional[float] = ...) -> None: ...
