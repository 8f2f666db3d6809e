from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RiderClass(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RIDER_CLASS_UNSPECIFIED: _ClassVar[RiderClass]
    RIDER_CLASS_ADULT: _ClassVar[RiderClass]
    RIDER_CLASS_YOUTH: _ClassVar[RiderClass]
    RIDER_CLASS_CHILD: _ClassVar[RiderClass]

class RideStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RIDE_STATUS_UNSPECIFIED: _ClassVar[RideStatus]
    RIDE_STATUS_ASSIGNED: _ClassVar[RideStatus]
    RIDE_STATUS_ON_BOARD: _ClassVar[RideStatus]
    RIDE_STATUS_COMPLETED: _ClassVar[RideStatus]
    RIDE_STATUS_CANCELLED: _ClassVar[RideStatus]
    RIDE_STATUS_NO_SHOW: _ClassVar[RideStatus]
    RIDE_STATUS_EXPIRED: _ClassVar[RideStatus]
    RIDE_STATUS_MATCHING: _ClassVar[RideStatus]
    RIDE_STATUS_REJECTED: _ClassVar[RideStatus]

class RejectReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECT_REASON_UNSPECIFIED: _ClassVar[RejectReason]
    REJECT_REASON_OUTSIDE_ZONE: _ClassVar[RejectReason]
    REJECT_REASON_OUTSIDE_HOURS: _ClassVar[RejectReason]
    REJECT_REASON_NO_STOP_IN_REACH: _ClassVar[RejectReason]
    REJECT_REASON_SAME_STOP: _ClassVar[RejectReason]
    REJECT_REASON_TOO_MANY_PASSENGERS: _ClassVar[RejectReason]
    REJECT_REASON_NO_WHEELCHAIR_VEHICLE: _ClassVar[RejectReason]
    REJECT_REASON_TOO_FAR_AHEAD: _ClassVar[RejectReason]
    REJECT_REASON_IN_THE_PAST: _ClassVar[RejectReason]
    REJECT_REASON_NO_VEHICLE_IN_TIME: _ClassVar[RejectReason]
    REJECT_REASON_NO_FEASIBLE_INSERTION: _ClassVar[RejectReason]
    REJECT_REASON_TOO_SHORT_NOTICE: _ClassVar[RejectReason]

class Sharing(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SHARING_UNSPECIFIED: _ClassVar[Sharing]
    SHARING_SHARED: _ClassVar[Sharing]
    SHARING_ALONE: _ClassVar[Sharing]
RIDER_CLASS_UNSPECIFIED: RiderClass
RIDER_CLASS_ADULT: RiderClass
RIDER_CLASS_YOUTH: RiderClass
RIDER_CLASS_CHILD: RiderClass
RIDE_STATUS_UNSPECIFIED: RideStatus
RIDE_STATUS_ASSIGNED: RideStatus
RIDE_STATUS_ON_BOARD: RideStatus
RIDE_STATUS_COMPLETED: RideStatus
RIDE_STATUS_CANCELLED: RideStatus
RIDE_STATUS_NO_SHOW: RideStatus
RIDE_STATUS_EXPIRED: RideStatus
RIDE_STATUS_MATCHING: RideStatus
RIDE_STATUS_REJECTED: RideStatus
REJECT_REASON_UNSPECIFIED: RejectReason
REJECT_REASON_OUTSIDE_ZONE: RejectReason
REJECT_REASON_OUTSIDE_HOURS: RejectReason
REJECT_REASON_NO_STOP_IN_REACH: RejectReason
REJECT_REASON_SAME_STOP: RejectReason
REJECT_REASON_TOO_MANY_PASSENGERS: RejectReason
REJECT_REASON_NO_WHEELCHAIR_VEHICLE: RejectReason
REJECT_REASON_TOO_FAR_AHEAD: RejectReason
REJECT_REASON_IN_THE_PAST: RejectReason
REJECT_REASON_NO_VEHICLE_IN_TIME: RejectReason
REJECT_REASON_NO_FEASIBLE_INSERTION: RejectReason
REJECT_REASON_TOO_SHORT_NOTICE: RejectReason
SHARING_UNSPECIFIED: Sharing
SHARING_SHARED: Sharing
SHARING_ALONE: Sharing

class LatLon(_message.Message):
    __slots__ = ("lat", "lon")
    LAT_FIELD_NUMBER: _ClassVar[int]
    LON_FIELD_NUMBER: _ClassVar[int]
    lat: float
    lon: float
    def __init__(self, lat: _Optional[float] = ..., lon: _Optional[float] = ...) -> None: ...

class Place(_message.Message):
    __slots__ = ("point", "stop", "node")
    POINT_FIELD_NUMBER: _ClassVar[int]
    STOP_FIELD_NUMBER: _ClassVar[int]
    NODE_FIELD_NUMBER: _ClassVar[int]
    point: LatLon
    stop: int
    node: int
    def __init__(self, point: _Optional[_Union[LatLon, _Mapping]] = ..., stop: _Optional[int] = ..., node: _Optional[int] = ...) -> None: ...

class Offer(_message.Message):
    __slots__ = ("offer_id", "request_id", "vehicle_id", "pickup_stop", "dropoff_stop", "walk_to_pickup_m", "walk_from_dropoff_m", "pickup_eta_s", "pickup_window_start_s", "pickup_window_end_s", "dropoff_eta_s", "latest_dropoff_s", "fare_krw", "direct_distance_m", "direct_time_s", "max_ride_s", "valid_until_s", "solo_fare_krw", "pooled_fare_krw", "walk_m", "service", "pickup_node", "dropoff_node")
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    PICKUP_STOP_FIELD_NUMBER: _ClassVar[int]
    DROPOFF_STOP_FIELD_NUMBER: _ClassVar[int]
    WALK_TO_PICKUP_M_FIELD_NUMBER: _ClassVar[int]
    WALK_FROM_DROPOFF_M_FIELD_NUMBER: _ClassVar[int]
    PICKUP_ETA_S_FIELD_NUMBER: _ClassVar[int]
    PICKUP_WINDOW_START_S_FIELD_NUMBER: _ClassVar[int]
    PICKUP_WINDOW_END_S_FIELD_NUMBER: _ClassVar[int]
    DROPOFF_ETA_S_FIELD_NUMBER: _ClassVar[int]
    LATEST_DROPOFF_S_FIELD_NUMBER: _ClassVar[int]
    FARE_KRW_FIELD_NUMBER: _ClassVar[int]
    DIRECT_DISTANCE_M_FIELD_NUMBER: _ClassVar[int]
    DIRECT_TIME_S_FIELD_NUMBER: _ClassVar[int]
    MAX_RIDE_S_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_S_FIELD_NUMBER: _ClassVar[int]
    SOLO_FARE_KRW_FIELD_NUMBER: _ClassVar[int]
    POOLED_FARE_KRW_FIELD_NUMBER: _ClassVar[int]
    WALK_M_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    PICKUP_NODE_FIELD_NUMBER: _ClassVar[int]
    DROPOFF_NODE_FIELD_NUMBER: _ClassVar[int]
    offer_id: str
    request_id: str
    vehicle_id: str
    pickup_stop: int
    dropoff_stop: int
    walk_to_pickup_m: int
    walk_from_dropoff_m: int
    pickup_eta_s: int
    pickup_window_start_s: int
    pickup_window_end_s: int
    dropoff_eta_s: int
    latest_dropoff_s: int
    fare_krw: int
    direct_distance_m: int
    direct_time_s: int
    max_ride_s: int
    valid_until_s: int
    solo_fare_krw: int
    pooled_fare_krw: int
    walk_m: int
    service: str
    pickup_node: int
    dropoff_node: int
    def __init__(self, offer_id: _Optional[str] = ..., request_id: _Optional[str] = ..., vehicle_id: _Optional[str] = ..., pickup_stop: _Optional[int] = ..., dropoff_stop: _Optional[int] = ..., walk_to_pickup_m: _Optional[int] = ..., walk_from_dropoff_m: _Optional[int] = ..., pickup_eta_s: _Optional[int] = ..., pickup_window_start_s: _Optional[int] = ..., pickup_window_end_s: _Optional[int] = ..., dropoff_eta_s: _Optional[int] = ..., latest_dropoff_s: _Optional[int] = ..., fare_krw: _Optional[int] = ..., direct_distance_m: _Optional[int] = ..., direct_time_s: _Optional[int] = ..., max_ride_s: _Optional[int] = ..., valid_until_s: _Optional[int] = ..., solo_fare_krw: _Optional[int] = ..., pooled_fare_krw: _Optional[int] = ..., walk_m: _Optional[int] = ..., service: _Optional[str] = ..., pickup_node: _Optional[int] = ..., dropoff_node: _Optional[int] = ...) -> None: ...

class Rejection(_message.Message):
    __slots__ = ("request_id", "reason", "detail")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    reason: RejectReason
    detail: str
    def __init__(self, request_id: _Optional[str] = ..., reason: _Optional[_Union[RejectReason, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class Ride(_message.Message):
    __slots__ = ("ride_id", "status", "vehicle_id", "pickup_stop", "dropoff_stop", "passengers", "pickup_window_start_s", "pickup_window_end_s", "latest_dropoff_s", "planned_pickup_s", "planned_dropoff_s", "picked_up_at_s", "dropped_off_at_s", "fare_krw", "offer_id", "service", "shared", "share", "reject_reason", "detail", "pickup_node", "dropoff_node", "walk_m", "pickup_point", "dropoff_point", "requested_s")
    RIDE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VEHICLE_ID_FIELD_NUMBER: _ClassVar[int]
    PICKUP_STOP_FIELD_NUMBER: _ClassVar[int]
    DROPOFF_STOP_FIELD_NUMBER: _ClassVar[int]
    PASSENGERS_FIELD_NUMBER: _ClassVar[int]
    PICKUP_WINDOW_START_S_FIELD_NUMBER: _ClassVar[int]
    PICKUP_WINDOW_END_S_FIELD_NUMBER: _ClassVar[int]
    LATEST_DROPOFF_S_FIELD_NUMBER: _ClassVar[int]
    PLANNED_PICKUP_S_FIELD_NUMBER: _ClassVar[int]
    PLANNED_DROPOFF_S_FIELD_NUMBER: _ClassVar[int]
    PICKED_UP_AT_S_FIELD_NUMBER: _ClassVar[int]
    DROPPED_OFF_AT_S_FIELD_NUMBER: _ClassVar[int]
    FARE_KRW_FIELD_NUMBER: _ClassVar[int]
    OFFER_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    REJECT_REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    PICKUP_NODE_FIELD_NUMBER: _ClassVar[int]
    DROPOFF_NODE_FIELD_NUMBER: _ClassVar[int]
    WALK_M_FIELD_NUMBER: _ClassVar[int]
    PICKUP_POINT_FIELD_NUMBER: _ClassVar[int]
    DROPOFF_POINT_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_S_FIELD_NUMBER: _ClassVar[int]
    ride_id: str
    status: RideStatus
    vehicle_id: str
    pickup_stop: int
    dropoff_stop: int
    passengers: int
    pickup_window_start_s: int
    pickup_window_end_s: int
    latest_dropoff_s: int
    planned_pickup_s: int
    planned_dropoff_s: int
    picked_up_at_s: int
    dropped_off_at_s: int
    fare_krw: int
    offer_id: str
    service: str
    shared: bool
    share: bool
    reject_reason: RejectReason
    detail: str
    pickup_node: int
    dropoff_node: int
    walk_m: int
    pickup_point: LatLon
    dropoff_point: LatLon
    requested_s: int
    def __init__(self, ride_id: _Optional[str] = ..., status: _Optional[_Union[RideStatus, str]] = ..., vehicle_id: _Optional[str] = ..., pickup_stop: _Optional[int] = ..., dropoff_stop: _Optional[int] = ..., passengers: _Optional[int] = ..., pickup_window_start_s: _Optional[int] = ..., pickup_window_end_s: _Optional[int] = ..., latest_dropoff_s: _Optional[int] = ..., planned_pickup_s: _Optional[int] = ..., planned_dropoff_s: _Optional[int] = ..., picked_up_at_s: _Optional[int] = ..., dropped_off_at_s: _Optional[int] = ..., fare_krw: _Optional[int] = ..., offer_id: _Optional[str] = ..., service: _Optional[str] = ..., shared: bool = ..., share: bool = ..., reject_reason: _Optional[_Union[RejectReason, str]] = ..., detail: _Optional[str] = ..., pickup_node: _Optional[int] = ..., dropoff_node: _Optional[int] = ..., walk_m: _Optional[int] = ..., pickup_point: _Optional[_Union[LatLon, _Mapping]] = ..., dropoff_point: _Optional[_Union[LatLon, _Mapping]] = ..., requested_s: _Optional[int] = ...) -> None: ...
