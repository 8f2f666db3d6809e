from proto.mobility.v1 import common_pb2 as _common_pb2
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
    __slots__ = ("clock_s", "vehicles", "vehicles_on_shift", "rides_assigned", "rides_on_board", "rides_completed", "rides_cancelled", "rides_no_show", "requests_rejected", "riders_on_board", "mean_wait_s", "planned_vehicle_time_s", "rides_expired", "service_day", "service", "rides_matching", "pooled_share", "rides_rejected", "rides_matched", "last_batch_s", "last_batch_compute_s", "batches", "wait_p50_s", "wait_p90_s", "rejected_by_reason", "vehicles_busy", "occupancy")
    class RejectedByReasonEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
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
    WAIT_P50_S_FIELD_NUMBER: _ClassVar[int]
    WAIT_P90_S_FIELD_NUMBER: _ClassVar[int]
    REJECTED_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    VEHICLES_BUSY_FIELD_NUMBER: _ClassVar[int]
    OCCUPANCY_FIELD_NUMBER: _ClassVar[int]
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
    wait_p50_s: float
    wait_p90_s: float
    rejected_by_reason: _containers.ScalarMap[str, int]
    vehicles_busy: int
    occupancy: float
    def __init__(self, clock_s: _Optional[int] = ..., vehicles: _Optional[int] = ..., vehicles_on_shift: _Optional[int] = ..., rides_assigned: _Optional[int] = ..., rides_on_board: _Optional[int] = ..., rides_completed: _Optional[int] = ..., rides_cancelled: _Optional[int] = ..., rides_no_show: _Optional[int] = ..., requests_rejected: _Optional[int] = ..., riders_on_board: _Optional[int] = ..., mean_wait_s: _Optional[float] = ..., planned_vehicle_time_s: _Optional[float] = ..., rides_expired: _Optional[int] = ..., service_day: _Optional[str] = ..., service: _Optional[str] = ..., rides_matching: _Optional[int] = ..., pooled_share: _Optional[float] = ..., rides_rejected: _Optional[int] = ..., rides_matched: _Optional[int] = ..., last_batch_s: _Optional[int] = ..., last_batch_compute_s: _Optional[float] = ..., batches: _Optional[int] = ..., wait_p50_s: _Optional[float] = ..., wait_p90_s: _Optional[float] = ..., rejected_by_reason: _Optional[_Mapping[str, int]] = ..., vehicles_busy: _Optional[int] = ..., occupancy: _Optional[float] = ...) -> None: ...

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

class GetServiceMapRequest(_message.Message):
    __slots__ = ("service",)
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    service: str
    def __init__(self, service: _Optional[str] = ...) -> None: ...

class MapStop(_message.Message):
    __slots__ = ("stop", "id", "name", "lat", "lon")
    STOP_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LAT_FIELD_NUMBER: _ClassVar[int]
    LON_FIELD_NUMBER: _ClassVar[int]
    stop: int
    id: str
    name: str
    lat: float
    lon: float
    def __init__(self, stop: _Optional[int] = ..., id: _Optional[str] = ..., name: _Optional[str] = ..., lat: _Optional[float] = ..., lon: _Optional[float] = ...) -> None: ...

class ServiceMap(_message.Message):
    __slots__ = ("service", "kind", "stops", "zone", "street_offsets", "street_lat", "street_lon", "nodes", "edges", "south_west", "north_east", "planar")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STOPS_FIELD_NUMBER: _ClassVar[int]
    ZONE_FIELD_NUMBER: _ClassVar[int]
    STREET_OFFSETS_FIELD_NUMBER: _ClassVar[int]
    STREET_LAT_FIELD_NUMBER: _ClassVar[int]
    STREET_LON_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    SOUTH_WEST_FIELD_NUMBER: _ClassVar[int]
    NORTH_EAST_FIELD_NUMBER: _ClassVar[int]
    PLANAR_FIELD_NUMBER: _ClassVar[int]
    service: str
    kind: str
    stops: _containers.RepeatedCompositeFieldContainer[MapStop]
    zone: _containers.RepeatedCompositeFieldContainer[_common_pb2.LatLon]
    street_offsets: _containers.RepeatedScalarFieldContainer[int]
    street_lat: _containers.RepeatedScalarFieldContainer[float]
    street_lon: _containers.RepeatedScalarFieldContainer[float]
    nodes: int
    edges: int
    south_west: _common_pb2.LatLon
    north_east: _common_pb2.LatLon
    planar: bool
    def __init__(self, service: _Optional[str] = ..., kind: _Optional[str] = ..., stops: _Optional[_Iterable[_Union[MapStop, _Mapping]]] = ..., zone: _Optional[_Iterable[_Union[_common_pb2.LatLon, _Mapping]]] = ..., street_offsets: _Optional[_Iterable[int]] = ..., street_lat: _Optional[_Iterable[float]] = ..., street_lon: _Optional[_Iterable[float]] = ..., nodes: _Optional[int] = ..., edges: _Optional[int] = ..., south_west: _Optional[_Union[_common_pb2.LatLon, _Mapping]] = ..., north_east: _Optional[_Union[_common_pb2.LatLon, _Mapping]] = ..., planar: bool = ...) -> None: ...

class ListRidesRequest(_message.Message):
    __slots__ = ("service", "open_only", "limit")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    OPEN_ONLY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    service: str
    open_only: bool
    limit: int
    def __init__(self, service: _Optional[str] = ..., open_only: bool = ..., limit: _Optional[int] = ...) -> None: ...

class ListRidesResponse(_message.Message):
    __slots__ = ("rides",)
    RIDES_FIELD_NUMBER: _ClassVar[int]
    rides: _containers.RepeatedCompositeFieldContainer[_common_pb2.Ride]
    def __init__(self, rides: _Optional[_Iterable[_Union[_common_pb2.Ride, _Mapping]]] = ...) -> None: ...

class GetVehicleRouteRequest(_message.Message):
    __slots__ = ("vehicle_id", "service")
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    vehicle_id: str
    service: str
    def __init__(self, vehicle_id: _Optional[str] = ..., service: _Optional[str] = ...) -> None: ...

class VehicleRoute(_message.Message):
    __slots__ = ("vehicle_id", "time_s", "manifest", "stop_points", "path", "stop_path_index")
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    STOP_POINTS_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    STOP_PATH_INDEX_FIELD_NUMBER: _ClassVar[int]
    vehicle_id: str
    time_s: int
    manifest: _driver_pb2.Manifest
    stop_points: _containers.RepeatedCompositeFieldContainer[_common_pb2.LatLon]
    path: _containers.RepeatedCompositeFieldContainer[_common_pb2.LatLon]
    stop_path_index: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, vehicle_id: _Optional[str] = ..., time_s: _Optional[int] = ..., manifest: _Optional[_Union[_driver_pb2.Manifest, _Mapping]] = ..., stop_points: _Optional[_Iterable[_Union[_common_pb2.LatLon, _Mapping]]] = ..., path: _Optional[_Iterable[_Union[_common_pb2.LatLon, _Mapping]]] = ..., stop_path_index: _Optional[_Iterable[int]] = ...) -> None: ...
